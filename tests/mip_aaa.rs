//! MN-HA keys from AAA (issue 16 item 1) on the deterministic simulator with loss, duplication
//! and reordering, three and four HAs, layer 2 and layer 3: no HA is configured with a mobile
//! node's key; the serving HA asks its caller ([`Event::KeyRequest`]), which plays AAA here
//! (`Aaa`), and the registration completes at the first HA and at a second HA; a denied one gets
//! its code (131, 129); requests beyond the pending bound are refused with 130 and counted; an
//! unanswered one is refused with 130 after the timeout; a failover keeps the keys (no new key
//! request); a key's lifetime ends and the next registration asks again; the key never shows in
//! any event's or the Home Agent's `Debug`. `MIP_AAA_SEEDS=n` sets the seeds (default 8),
//! `TELCP_FIRST` the first (default 0).
#![cfg(feature = "sim")]

mod common;

use common::mip::*;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use telcp::health::NodeId;
use telcp::mip::cluster::{
    Body, ClusterError, ClusterMessage, Entry, Item, KeyWrap, Record, RecordKey, RecordState,
    SealedKey, Secret,
};
use telcp::mip::wire::{Header, Message, ReplyCode};
use telcp::mip::{
    AaaConfig, AaaKey, ClientEvent, DenyReason, Event, ForwardMode, HomeAgent, HomeAgentConfig,
    InputError, KeyError, KeyRequestId,
};
use telcp::sim::{LinkConfig, NodeId as SimId};

fn seeds() -> u64 {
    std::env::var("MIP_AAA_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8)
}

fn mode_of(seed: u64) -> ForwardMode {
    if seed % 2 == 0 {
        ForwardMode::Layer2
    } else {
        ForwardMode::Layer3
    }
}

/// An HA of `n` with no mobile node key configured: keys come from AAA.
fn aaa_config(i: u32, n: u32, mode: ForwardMode, aaa: AaaConfig) -> HomeAgentConfig {
    let mut c = ha_config(i, n, mode);
    c.mobile_nodes.clear();
    c.aaa = Some(aaa);
    c
}

/// Mobile node `k`'s key (the same as `mn_sa(k)`, which its client uses).
fn key_of(k: u32) -> Vec<u8> {
    format!("mn-ha key of mn {k}").into_bytes()
}

/// The mobile node a key request names, by NAI or home address, and whether its SPI is that
/// mobile node's.
fn who(nai: Option<&[u8]>, home_address: Ipv4Addr, spi: u32) -> Option<u32> {
    let k = (1..=MNS).find(|k| nai == Some(&nai_of(*k)[..]) || home_address == home(*k))?;
    (spi == 0x1000 + k).then_some(k)
}

fn nai_of(k: u32) -> Vec<u8> {
    nai(k)
}

/// A key request as AAA saw it.
#[derive(Debug, Clone)]
struct Asked {
    ha: u32,
    k: Option<u32>,
    ha_address: Ipv4Addr,
}

/// The caller of every HA playing AAA: answers each key request at once by `policy`.
struct Aaa {
    policy: fn(u32) -> Option<DenyReason>,
    lifetime: Duration,
    asked: Vec<Asked>,
    events: Vec<(u32, Event)>,
}

impl Aaa {
    fn new(policy: fn(u32) -> Option<DenyReason>) -> Aaa {
        Aaa {
            policy,
            lifetime: Duration::from_secs(3600),
            asked: Vec::new(),
            events: Vec::new(),
        }
    }

    fn answer(&mut self, w: &mut World, n: u32) {
        for i in 1..=n {
            if !w.sim.is_alive(w.ha[i as usize - 1]) {
                continue;
            }
            for e in w.events(i) {
                if let Event::KeyRequest {
                    id,
                    nai,
                    home_address,
                    spi,
                    ha_address,
                } = &e
                {
                    let k = who(nai.as_deref(), *home_address, *spi);
                    self.asked.push(Asked {
                        ha: i,
                        k,
                        ha_address: *ha_address,
                    });
                    let now = w.sim.now();
                    let r = match k.map(|k| (k, (self.policy)(k))) {
                        Some((k, None)) => w
                            .ha(i)
                            .provide_key(
                                now,
                                *id,
                                AaaKey {
                                    key: key_of(k),
                                    lifetime: self.lifetime,
                                    home_address: None,
                                },
                            )
                            .map_err(|e| format!("{e:?}")),
                        Some((_, Some(reason))) => {
                            w.ha(i).deny(now, *id, reason).map_err(|e| format!("{e:?}"))
                        }
                        None => w
                            .ha(i)
                            .deny(now, *id, DenyReason::AuthenticationFailed)
                            .map_err(|e| format!("{e:?}")),
                    };
                    // A refusal after the key is the request's own outcome (e.g. a stale copy
                    // answered 133); the mobile node's outcome is what the tests check.
                    let _ = r;
                }
                self.events.push((i, e));
            }
        }
    }

    /// Key requests for mobile node `k`.
    fn asked_for(&self, k: u32) -> Vec<&Asked> {
        self.asked.iter().filter(|a| a.k == Some(k)).collect()
    }
}

/// Sends a registration and runs until the client reports an outcome, answering key requests.
fn register(w: &mut World, aaa: &mut Aaa, n: u32, id: SimId) -> ClientEvent {
    let now = w.sim.now();
    w.mn(id).register(now);
    for _ in 0..300_000 {
        w.run_for(Duration::from_millis(50));
        aaa.answer(w, n);
        if let Some(e) = w.sim.poll_event_of::<telcp::mip::MobileNodeClient>(id) {
            return e;
        }
    }
    panic!("no outcome");
}

fn world(n: u32, seed: u64, aaa: AaaConfig) -> World {
    let mode = mode_of(seed);
    World::with(n, seed, LinkConfig::lossy(0.1, 0.05, 0.05), |i| {
        let mut c = aaa_config(i, n, mode, aaa);
        c.max_lifetime = u16::MAX;
        c
    })
}

fn client(w: &World, k: u32) -> telcp::mip::ClientConfig {
    let mut cfg = w.client_cfg(k, k % 2 == 0, mn_addr(k));
    cfg.max_retransmits = 15;
    cfg.lifetime = u16::MAX;
    cfg
}

/// Every mobile node registers with
/// a key only AAA knows, by home address and by NAI; the key is asked by the HA that serves it
/// (the first HA itself for some, a second HA for others), naming the virtual HA address.
#[test]
fn aaa_keys_register_at_the_first_and_at_a_second_ha_with_loss() {
    let (mut at_first, mut at_second) = (0, 0);
    for seed in common::seed_range(seeds()) {
        let n = 3;
        let mut w = world(n, seed, AaaConfig::default());
        let mut aaa = Aaa::new(|_| None);
        for k in 1..=12 {
            let cfg = client(&w, k);
            let id = w.add_mn(cfg);
            match register(&mut w, &mut aaa, n, id) {
                ClientEvent::Registered { .. } => {}
                e => panic!("seed {seed} MN {k}: {e:?}"),
            }
            let b = w.ha(1).binding(home(k), Some(&nai(k))).cloned();
            let server = match b {
                Some(b) => b.second_ha.0,
                None => panic!("seed {seed} MN {k}: no binding at HA 1"),
            };
            let asked = aaa.asked_for(k);
            assert!(!asked.is_empty(), "seed {seed} MN {k}: no key request");
            for a in &asked {
                assert_eq!(a.ha_address, VIP, "seed {seed} MN {k}");
            }
            // The key was asked where the request was authenticated: its server; or, when a
            // lost reply made the first HA pick another server for the retransmission, that
            // server used the key replicated from the member that asked (one request only).
            let here = asked.iter().any(|a| a.ha == server);
            assert!(
                here || asked.len() == 1,
                "seed {seed} MN {k}: asked at {asked:?}, served by {server}"
            );
            match (here, server) {
                (true, 1) => at_first += 1,
                (true, _) => at_second += 1,
                _ => {}
            }
        }
        assert!(aaa.asked.iter().all(|a| a.k.is_some()), "seed {seed}");
        let provided: u64 = (1..=n).map(|i| w.ha(i).stats().keys_provided).sum();
        assert!(provided >= 12, "seed {seed}: {provided}");
    }
    assert!(at_first > 0 && at_second > 0, "{at_first} {at_second}");
}

/// mip-3.4-aaa-denial-codes: AAA's refusal is the request's answer: 131 for failed authentication, 129
/// for administratively prohibited (RFC 5944 section 3.4). Without a key the denial carries no
/// MN-HA authenticator, so the mobile node's client discards it (RFC 5944 section 3.6.2.1) and
/// its registration fails; the denial is on the wire to it, and nothing is bound.
#[test]
fn mip_3_4_aaa_denial_codes() {
    for seed in common::seed_range(seeds()) {
        let n = 3;
        let mut w = world(n, seed, AaaConfig::default());
        let mut aaa = Aaa::new(|k| match k % 3 {
            1 => Some(DenyReason::AuthenticationFailed),
            2 => Some(DenyReason::AdministrativelyProhibited),
            _ => None,
        });
        for k in 1..=6 {
            let mut cfg = client(&w, k);
            cfg.max_retransmits = 8;
            let id = w.add_mn(cfg);
            let e = register(&mut w, &mut aaa, n, id);
            let codes: Vec<ReplyCode> = w.replies_to(mn_addr(k)).iter().map(|p| p.code).collect();
            let want = match k % 3 {
                1 => Some(ReplyCode::MN_AUTH_FAILED),
                2 => Some(ReplyCode::HA_ADMIN_PROHIBITED),
                _ => None,
            };
            match (want, e) {
                (Some(code), ClientEvent::Failed) => {
                    assert!(!codes.is_empty(), "seed {seed} MN {k}: no reply at all");
                    assert!(
                        codes.iter().all(|c| *c == code),
                        "seed {seed} MN {k}: {codes:?}"
                    );
                    assert!(w.ha(1).binding(home(k), Some(&nai(k))).is_none());
                }
                (None, ClientEvent::Registered { .. }) => {}
                (_, e) => panic!("seed {seed} MN {k}: {e:?} {codes:?}"),
            }
        }
        let denied: u64 = (1..=n).map(|i| w.ha(i).stats().keys_denied).sum();
        assert!(denied >= 4, "seed {seed}: {denied}");
    }
}

/// The serving HA fails; its bindings move to a backup with their keys
/// (replicated, authenticated), and the mobile nodes re-register there without a new key
/// request.
#[test]
fn aaa_failover_keeps_the_keys_no_new_key_request() {
    for seed in common::seed_range(seeds()) {
        let n = 4;
        let mut w = World::with(n, seed, LinkConfig::lossy(0.05, 0.0, 0.02), |i| {
            aaa_config(i, n, mode_of(seed), AaaConfig::default())
        });
        let mut aaa = Aaa::new(|_| None);
        let mut clients = Vec::new();
        for k in 1..=16 {
            let mut cfg = w.client_cfg(k, k % 2 == 0, mn_addr(k));
            cfg.max_retransmits = 15;
            let id = w.add_mn(cfg);
            registered(&register(&mut w, &mut aaa, n, id));
            clients.push((k, id));
        }
        w.run_for(Duration::from_secs(3));
        aaa.answer(&mut w, n);
        let victim = (2..=n).max_by_key(|i| w.ha(*i).served()).expect("a member");
        let served: Vec<u32> = (1..=16)
            .filter(|k| {
                w.ha(1)
                    .binding(home(*k), Some(&nai(*k)))
                    .is_some_and(|b| b.second_ha == NodeId(victim))
            })
            .collect();
        assert!(!served.is_empty(), "seed {seed}");
        w.sim.crash(w.ha[victim as usize - 1]);
        w.run_for(Duration::from_secs(10));
        aaa.answer(&mut w, n);
        let before = aaa.asked.len();
        for (k, id) in clients.into_iter().filter(|(k, _)| served.contains(k)) {
            match register(&mut w, &mut aaa, n, id) {
                ClientEvent::Registered { .. } => {}
                e => panic!("seed {seed} MN {k}: {e:?}"),
            }
            let owner = w.ha(1).binding(home(k), Some(&nai(k))).unwrap().second_ha;
            assert_ne!(owner, NodeId(victim), "seed {seed} MN {k}");
        }
        assert_eq!(
            aaa.asked.len(),
            before,
            "seed {seed}: new key requests after the failover: {:?}",
            &aaa.asked[before..]
        );
    }
}

/// No event and no `Debug` of a Home Agent (which holds the keys)
/// shows a key, as text or as bytes.
#[test]
fn aaa_the_key_never_shows_in_events_or_debug() {
    let n = 3;
    let mut w = world(n, 7, AaaConfig::default());
    let mut aaa = Aaa::new(|_| None);
    for k in 1..=6 {
        let cfg = client(&w, k);
        let id = w.add_mn(cfg);
        registered(&register(&mut w, &mut aaa, n, id));
    }
    w.run_for(Duration::from_secs(3));
    aaa.answer(&mut w, n);
    let mut text: Vec<String> = aaa.events.iter().map(|e| format!("{e:?}")).collect();
    for i in 1..=n {
        text.push(format!("{:?}", w.ha(i)));
    }
    let holders = (1..=n)
        .filter(|i| format!("{:?}", w.ha(*i)).contains("redacted"))
        .count();
    assert_eq!(holders as u32, n, "every HA holds keys (replicated)");
    for k in 1..=6 {
        let key = key_of(k);
        let as_text = String::from_utf8(key.clone()).unwrap();
        let as_bytes = format!("{key:?}");
        let inner = &as_bytes[1..as_bytes.len() - 1];
        for t in &text {
            assert!(!t.contains(&as_text), "key {k} in {t}");
            assert!(!t.contains(inner), "key {k} bytes in {t}");
        }
    }
    // The key requests themselves carry identities, never keys.
    let dbg = format!(
        "{:?}",
        AaaKey {
            key: key_of(1),
            lifetime: Duration::from_secs(1),
            home_address: None
        }
    );
    assert!(
        !dbg.contains("mn-ha key") && dbg.contains("redacted"),
        "{dbg}"
    );
}

// ---------------------------------------------------------------- one HA, by hand

fn lone(aaa: AaaConfig) -> (HomeAgent, Instant) {
    let t0 = Instant::now();
    let mut c = aaa_config(1, 1, ForwardMode::Layer3, aaa);
    c.seed = telcp::io::seed(3);
    (HomeAgent::new(c, t0).unwrap(), t0)
}

fn drain(ha: &mut HomeAgent) -> (Vec<Event>, Vec<(u8, Vec<u8>)>) {
    let mut replies = Vec::new();
    while let Some(t) = ha.poll_transmit() {
        if let Ok(m) = Message::parse(&t.payload)
            && let Header::Reply(p) = m.header
        {
            replies.push((p.code.0, t.payload.to_vec()));
        }
    }
    (std::iter::from_fn(|| ha.poll_event()).collect(), replies)
}

fn key_requests(events: &[Event]) -> Vec<KeyRequestId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::KeyRequest { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

fn ntp_id(t0: Instant, now: Instant) -> u64 {
    telcp::mip::wire::replay::NtpTime::from_unix(WALL + now.duration_since(t0)).0
}

/// mip-3.4-aaa-pending-bound-130: beyond `max_pending` parked requests, a request for an unknown key is
/// refused with 130 and counted; a copy of a parked request asks nothing more.
#[test]
fn mip_3_4_aaa_pending_bound_130() {
    let (mut ha, t0) = lone(AaaConfig {
        max_pending: 3,
        ..AaaConfig::default()
    });
    drain(&mut ha);
    let to = vip();
    for k in 1..=5 {
        let rrq = request(k, VIP, ntp_id(t0, t0), None);
        let _ = ha.handle_datagram(t0, mn_addr(k), to, &rrq);
        // A copy (retransmission) of a parked request.
        let _ = ha.handle_datagram(t0, mn_addr(k), to, &rrq);
    }
    let (events, replies) = drain(&mut ha);
    assert_eq!(key_requests(&events).len(), 3);
    assert_eq!(
        replies.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![130, 130, 130, 130],
        "MNs 4 and 5, each twice"
    );
    let s = ha.stats();
    assert_eq!((s.key_requests, s.key_requests_refused), (3, 4));
    // The parked ones still complete.
    for (i, id) in key_requests(&events).into_iter().enumerate() {
        let k = i as u32 + 1;
        let r = ha.provide_key(
            t0,
            id,
            AaaKey {
                key: key_of(k),
                lifetime: Duration::from_secs(60),
                home_address: None,
            },
        );
        assert_eq!(r, Ok(()));
        let (_, replies) = drain(&mut ha);
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].0, 0, "MN {k} accepted");
        assert!(ha.binding(home(k), None).is_some());
    }
    // Answered once: the id is gone.
    let id = KeyRequestId(1);
    assert_eq!(
        ha.deny(t0, id, DenyReason::AuthenticationFailed),
        Err(KeyError::UnknownRequest(id))
    );
}

/// mip-3.4-aaa-timeout-130: a key request with no answer within the timeout: the request is refused with
/// 130, the expiry reported and counted; a late answer is for an unknown request.
#[test]
fn mip_3_4_aaa_timeout_130() {
    let timeout = Duration::from_secs(2);
    let (mut ha, t0) = lone(AaaConfig {
        timeout,
        ..AaaConfig::default()
    });
    drain(&mut ha);
    let rrq = request(4, VIP, ntp_id(t0, t0), None);
    let _ = ha.handle_datagram(t0, mn_addr(4), vip(), &rrq);
    let (events, replies) = drain(&mut ha);
    let ids = key_requests(&events);
    assert_eq!((ids.len(), replies.len()), (1, 0));
    assert_eq!(ha.poll_timeout().map(|t| t <= t0 + timeout), Some(true));
    ha.handle_timeout(t0 + timeout - Duration::from_millis(1));
    assert!(drain(&mut ha).1.is_empty(), "not before the timeout");
    ha.handle_timeout(t0 + timeout);
    let (events, replies) = drain(&mut ha);
    assert!(events.contains(&Event::KeyRequestExpired { id: ids[0] }));
    assert_eq!(replies.iter().map(|r| r.0).collect::<Vec<_>>(), vec![130]);
    assert_eq!(ha.stats().key_requests_expired, 1);
    let late = ha.provide_key(
        t0 + timeout,
        ids[0],
        AaaKey {
            key: key_of(4),
            lifetime: Duration::from_secs(60),
            home_address: None,
        },
    );
    assert_eq!(late, Err(KeyError::UnknownRequest(ids[0])));
    assert!(ha.binding(home(4), None).is_none());
}

/// mip-3.8.2.1-aaa-key-authenticates: the key from AAA is the MN-HA key the request is checked
/// with (RFC 5944 section 3.8.2.1), for its lifetime: a registration after the key's lifetime asks AAA again; one within it
/// does not. A wrong key from AAA: the request fails authentication (131).
#[test]
fn mip_3_8_2_1_aaa_key_authenticates() {
    let (mut ha, t0) = lone(AaaConfig::default());
    drain(&mut ha);
    let key = |k| AaaKey {
        key: key_of(k),
        lifetime: Duration::from_secs(10),
        home_address: None,
    };
    let rrq = request(5, VIP, ntp_id(t0, t0), None);
    let _ = ha.handle_datagram(t0, mn_addr(5), vip(), &rrq);
    let ids = key_requests(&drain(&mut ha).0);
    assert_eq!(ids.len(), 1);
    assert_eq!(ha.provide_key(t0, ids[0], key(5)), Ok(()));
    assert_eq!(drain(&mut ha).1[0].0, 0);
    // Within the lifetime: verified with the held key.
    let t1 = t0 + Duration::from_secs(5);
    let rrq = request(5, VIP, ntp_id(t0, t1), None);
    let _ = ha.handle_datagram(t1, mn_addr(5), vip(), &rrq);
    let (events, replies) = drain(&mut ha);
    assert!(key_requests(&events).is_empty());
    assert_eq!(replies[0].0, 0);
    // After it: asked again.
    let t2 = t0 + Duration::from_secs(11);
    let rrq = request(5, VIP, ntp_id(t0, t2), None);
    let _ = ha.handle_datagram(t2, mn_addr(5), vip(), &rrq);
    let (events, replies) = drain(&mut ha);
    let ids = key_requests(&events);
    assert_eq!((ids.len(), replies.len()), (1, 0));
    // AAA answers with another mobile node's key: 131.
    assert_eq!(
        ha.provide_key(t2, ids[0], key(6)),
        Err(KeyError::Refused(ReplyCode::MN_AUTH_FAILED))
    );
    assert_eq!(drain(&mut ha).1[0].0, 131);
}

/// mip-rfc2104.3-aaa-short-keys: a key from AAA is a Mobile IP key like a configured one: HMAC-MD5
/// "with 128-bit keys" is the default (RFC 5944 section 5.1), and "less than L bytes is strongly
/// discouraged" (RFC 2104 section 3, L = 16 for MD5). A shorter key is the embedder's error
/// (`KeyError::KeyTooShort`): nothing is sent, nothing held, the request stays parked and is
/// answered with a usable key; an over-long one (above 255 octets) is `BadKey`, also parked.
#[test]
fn mip_rfc2104_3_aaa_short_keys() {
    let (mut ha, t0) = lone(AaaConfig::default());
    drain(&mut ha);
    let rrq = request(3, VIP, ntp_id(t0, t0), None);
    let _ = ha.handle_datagram(t0, mn_addr(3), vip(), &rrq);
    let ids = key_requests(&drain(&mut ha).0);
    assert_eq!(ids.len(), 1);
    let with = |key: Vec<u8>| AaaKey {
        key,
        lifetime: Duration::from_secs(60),
        home_address: None,
    };
    for octets in [0, 1, 15] {
        assert_eq!(
            ha.provide_key(t0, ids[0], with(key_of(3)[..octets].to_vec())),
            Err(KeyError::KeyTooShort { octets, min: 16 }),
        );
        assert_eq!(
            drain(&mut ha),
            (vec![], vec![]),
            "nothing sent for {octets} octets"
        );
    }
    assert_eq!(
        ha.provide_key(t0, ids[0], with(vec![7; 256])),
        Err(KeyError::BadKey)
    );
    assert_eq!(ha.stats().keys_provided, 0);
    assert!(ha.binding(home(3), None).is_none());
    // Still parked: the right key (17 octets) completes it.
    assert!(key_of(3).len() >= 16);
    assert_eq!(ha.provide_key(t0, ids[0], with(key_of(3))), Ok(()));
    assert_eq!(drain(&mut ha).1[0].0, 0);
    assert!(ha.binding(home(3), None).is_some());
}

/// A configured key is used as always, never asked for; an unknown
/// mobile node without AAA configured is refused with 131 at once.
#[test]
fn aaa_configured_keys_are_never_asked_for() {
    let t0 = Instant::now();
    let mut c = ha_config(1, 1, ForwardMode::Layer3);
    c.aaa = Some(AaaConfig::default());
    let mut ha = HomeAgent::new(c, t0).unwrap();
    drain(&mut ha);
    let rrq = request(2, VIP, ntp_id(t0, t0), None);
    let _ = ha.handle_datagram(t0, mn_addr(2), vip(), &rrq);
    let (events, replies) = drain(&mut ha);
    assert!(key_requests(&events).is_empty());
    assert_eq!(replies[0].0, 0);
    let (mut ha, _) = {
        let mut c = aaa_config(1, 1, ForwardMode::Layer3, AaaConfig::default());
        c.aaa = None;
        (HomeAgent::new(c, t0).unwrap(), t0)
    };
    drain(&mut ha);
    let _ = ha.handle_datagram(t0, mn_addr(2), vip(), &rrq);
    let (events, replies) = drain(&mut ha);
    assert!(key_requests(&events).is_empty());
    assert_eq!(replies[0].0, 131);
}

// ---------------------------------------------------------------- the key on the cluster link

/// A replicated binding of mobile node `k` from member 2, naming member 1 its server, with
/// `key`.
fn replica_of(k: u32, key: Option<SealedKey>) -> Record {
    Record {
        home_address: home(k),
        nai: Some(nai(k).into()),
        first_ha: NodeId(2),
        second_ha: NodeId(1),
        fa: mn_addr(k),
        identification: 1,
        state: RecordState::Permanent {
            care_of: vec![(
                Ipv4Addr::new(203, 0, 113, k as u8),
                Some(Duration::from_secs(600)),
            )],
        },
        tunnel: None,
        key,
        revocation: None,
    }
}

fn sealed_key_of(k: u32) -> SealedKey {
    let clear = RecordKey {
        spi: 0x1000 + k,
        key: Secret(key_of(k).into()),
        left: Duration::from_secs(600),
    };
    let nonce = [0x5a; telcp::mip::cluster::NONCE_LEN];
    KeyWrap::new(KEY)
        .seal(nonce, home(k), Some(&nai(k)), &clear)
        .expect("a key of 1-255 octets")
}

fn batch_from_2(pn: u64, items: Vec<Record>) -> Vec<u8> {
    ClusterMessage {
        sender: NodeId(2),
        incarnation: 1,
        pn,
        body: Body::Replicate {
            seq: pn,
            items: items
                .into_iter()
                .map(|r| Entry::Item(Item::Upsert(r)))
                .collect(),
        },
    }
    .to_vec(KEY)
}

/// A replication batch whose sealed key does not open (one flipped bit of the ciphertext, of the
/// tag, or the key of another record), though its MAC verifies: refused whole with a typed error,
/// counted, not acknowledged, nothing of it applied (not even its other record). The intact batch
/// then applies, and its key authenticates the mobile node's next request with no key request.
#[test]
fn aaa_a_replicated_key_that_does_not_open_refuses_the_whole_batch() {
    let t0 = Instant::now();
    let mut c = aaa_config(1, 2, ForwardMode::Layer3, AaaConfig::default());
    c.seed = telcp::io::seed(3);
    let mut ha = HomeAgent::new(c, t0).unwrap();
    drain(&mut ha);
    let mut flipped_ct = sealed_key_of(5);
    flipped_ct.ciphertext[2] ^= 0x10;
    let mut flipped_tag = sealed_key_of(5);
    flipped_tag.tag[15] ^= 0x01;
    let mut other_record = sealed_key_of(6);
    other_record.spi = 0x1005;
    for (pn, bad) in [(1, flipped_ct), (2, flipped_tag), (3, other_record)] {
        let bytes = batch_from_2(pn, vec![replica_of(7, None), replica_of(5, Some(bad))]);
        assert_eq!(
            ha.handle_datagram(t0, ha_addr(2), ha_addr(1), &bytes),
            Err(InputError::Cluster(ClusterError::KeyRefused)),
            "pn {pn}"
        );
        let (_, replies) = drain(&mut ha);
        assert!(replies.is_empty());
        assert!(ha.poll_transmit().is_none(), "no Ack");
        assert!(ha.binding(home(7), Some(&nai(7))).is_none(), "pn {pn}");
        assert!(ha.binding(home(5), Some(&nai(5))).is_none(), "pn {pn}");
        assert_eq!(ha.stats().cluster_keys_refused, pn);
        assert_eq!(ha.stats().cluster_refused, pn);
    }
    assert_eq!(ha.stats().replicas_applied, 0);
    // The intact batch: applied and acknowledged; the key it carries verifies MN 5.
    let good = batch_from_2(
        4,
        vec![replica_of(7, None), replica_of(5, Some(sealed_key_of(5)))],
    );
    assert_eq!(
        ha.handle_datagram(t0, ha_addr(2), ha_addr(1), &good),
        Ok(())
    );
    assert!(ha.binding(home(7), Some(&nai(7))).is_some());
    assert!(ha.binding(home(5), Some(&nai(5))).is_some());
    drain(&mut ha);
    let t1 = t0 + Duration::from_secs(1);
    let rrq = request(5, VIP, ntp_id(t0, t1), None);
    let _ = ha.handle_datagram(t1, mn_addr(5), vip(), &rrq);
    let (events, replies) = drain(&mut ha);
    assert!(key_requests(&events).is_empty(), "{events:?}");
    assert_eq!(replies.first().map(|r| r.0), Some(0));
}

/// No datagram of a failover scenario (every one the simulator carried or dropped, cluster
/// messages above all) holds a mobile node's key, while the cluster does replicate the keys
/// (sealed): a record with a key opens with the cluster's wrapping key to the key AAA gave.
#[test]
fn aaa_no_datagram_carries_a_key_in_clear() {
    for seed in common::seed_range(seeds().min(4)) {
        let n = 3;
        let mut w = World::with(n, seed, LinkConfig::lossy(0.05, 0.05, 0.05), |i| {
            aaa_config(i, n, mode_of(seed), AaaConfig::default())
        });
        let mut aaa = Aaa::new(|_| None);
        let mut clients = Vec::new();
        for k in 1..=8 {
            let cfg = client(&w, k);
            let id = w.add_mn(cfg);
            registered(&register(&mut w, &mut aaa, n, id));
            clients.push(id);
        }
        w.run_for(Duration::from_secs(3));
        let victim = (1..=n).max_by_key(|i| w.ha(*i).served()).expect("a member");
        w.sim.crash(w.ha[victim as usize - 1]);
        w.run_for(Duration::from_secs(10));
        aaa.answer(&mut w, n);
        for id in clients {
            let _ = register(&mut w, &mut aaa, n, id);
        }
        let wrap = KeyWrap::new(KEY);
        let mut sealed = 0;
        for t in w.sim.trace() {
            for k in 1..=8 {
                let key = key_of(k);
                assert!(
                    !t.payload.windows(key.len()).any(|x| x == key),
                    "seed {seed}: key {k} in clear from {} to {}",
                    t.from,
                    t.to
                );
            }
            let Ok(m) = ClusterMessage::parse(&t.payload, KEY) else {
                continue;
            };
            let Body::Replicate { items, .. } = m.body else {
                continue;
            };
            for e in items {
                if let Entry::Item(Item::Upsert(r)) = e
                    && let Some(s) = &r.key
                {
                    let k = (1..=8).find(|k| {
                        r.home_address == home(*k) || r.nai.as_deref() == Some(&nai(*k)[..])
                    });
                    let opened = wrap.open(r.home_address, r.nai.as_deref(), s).unwrap();
                    assert_eq!(Some(&opened.key.0[..]), k.map(key_of).as_deref());
                    sealed += 1;
                }
            }
        }
        assert!(sealed > 8, "seed {seed}: {sealed} sealed keys replicated");
    }
}
