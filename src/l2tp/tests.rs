//! The typed refusals of the L2TP endpoints' configuration and input.

use super::{
    Config, ConfigError, ConfigField, InputError, Lac, LacConfig, Lns, LnsConfig, Unexpected,
};
use crate::health::{self, ClusterKey, NodeId, Role};
use std::time::{Duration, Instant};

fn common() -> Config {
    Config {
        seed: crate::io::seed(13),
        ..Config::default()
    }
}

fn lac_config() -> LacConfig {
    let mut c = LacConfig::new("10.0.0.1:1701".parse().unwrap());
    c.common = common();
    c
}

/// Each out-of-range field is named by the error; RFC 2661 4.4.3: the Receive Window Size is at
/// least 1, and 3.1: Tunnel and Session IDs are 16 bits, so at most 65535 of each.
#[test]
fn config_errors_name_the_field() {
    let now = Instant::now();
    let bad = |f: &dyn Fn(&mut LacConfig)| {
        let mut c = lac_config();
        f(&mut c);
        Lac::new(c, now).err()
    };
    let field = |f| Some(ConfigError::OutOfRange(f));
    assert!(bad(&|_| {}).is_none());
    assert_eq!(
        bad(&|c| c.common.receive_window = 0),
        field(ConfigField::ReceiveWindow)
    );
    assert_eq!(
        bad(&|c| c.common.max_tunnels = 65536),
        field(ConfigField::MaxTunnels)
    );
    assert_eq!(
        bad(&|c| c.common.max_sessions_per_tunnel = 0),
        field(ConfigField::MaxSessionsPerTunnel)
    );
    assert_eq!(
        bad(&|c| c.common.host_name.clear()),
        field(ConfigField::HostName)
    );
    assert_eq!(
        bad(&|c| c.common.retransmit_initial = Duration::ZERO),
        field(ConfigField::RetransmitInitial)
    );
    assert_eq!(bad(&|c| c.max_calls = 0), field(ConfigField::MaxCalls));
    assert_eq!(
        bad(&|c| c.idle_tunnel_timeout = Some(Duration::from_secs(86_401))),
        field(ConfigField::IdleTunnelTimeout)
    );
    assert_eq!(
        bad(&|c| c.common.challenge = true),
        Some(ConfigError::NoSecret)
    );
}

fn membership() -> super::LnsMembership {
    super::LnsMembership::new(
        NodeId(1),
        Role::LNS,
        ClusterKey::new(b"test cluster key"),
        Vec::new(),
    )
}

/// A health configuration the monitor refuses comes back as the monitor's own typed error.
#[test]
fn a_bad_health_config_is_the_monitors_error() {
    let now = Instant::now();
    let cfg = LnsConfig {
        common: common(),
        health: health::HealthConfig::default().with_interval(Duration::ZERO),
        membership: Some(membership()),
        ..LnsConfig::default()
    };
    assert!(matches!(
        Lns::new(cfg, now),
        Err(ConfigError::Health(health::ConfigError::Timing { .. }))
    ));
}

/// A heartbeat (health's magic prefix) at an LNS without a monitor is not taken as L2TP.
#[test]
fn a_heartbeat_without_health_is_unexpected() {
    let now = Instant::now();
    let cfg = LnsConfig {
        common: common(),
        ..LnsConfig::default()
    };
    let mut lns = Lns::new(cfg, now).unwrap();
    let (from, to) = (
        "10.0.9.1:1701".parse().unwrap(),
        "10.0.0.1:1701".parse().unwrap(),
    );
    let mut hb = health::wire::MAGIC.to_vec();
    hb.resize(health::MAX_LEN, 0);
    assert_eq!(
        lns.handle_datagram(now, from, to, &hb),
        Err(InputError::Unexpected(Unexpected::Heartbeat))
    );
    assert!(lns.poll_transmit().is_none());
}

/// Every datagram a LAC sends, and every event it reports, while eight calls wait for one tunnel to an LNS and then come up,
/// both endpoints seeded with `seed`.
fn eight_calls_transcript(seed: u64) -> (Vec<bytes::Bytes>, Vec<super::Event>) {
    let now = Instant::now();
    let (lac_addr, lns_addr) = (
        "10.0.9.1:1701".parse().unwrap(),
        "10.0.0.1:1701".parse().unwrap(),
    );
    let mut cfg = LacConfig::new(lns_addr);
    cfg.common.seed = crate::io::seed(seed);
    let mut lac = Lac::new(cfg, now).unwrap();
    let lns_cfg = LnsConfig {
        common: Config {
            seed: crate::io::seed(seed),
            ..Config::default()
        },
        ..LnsConfig::default()
    };
    let mut lns = Lns::new(lns_cfg, now).unwrap();
    for _ in 0..8 {
        lac.open_session(now).unwrap();
    }
    let mut sent = Vec::new();
    loop {
        let mut moved = false;
        while let Some(t) = lac.poll_transmit() {
            sent.push(t.payload.clone());
            lns.handle_datagram(now, lac_addr, lns_addr, &t.payload)
                .unwrap();
            moved = true;
        }
        while let Some(t) = lns.poll_transmit() {
            lac.handle_datagram(now, lns_addr, lac_addr, &t.payload)
                .unwrap();
            moved = true;
        }
        if !moved {
            return (sent, std::iter::from_fn(|| lac.poll_event()).collect());
        }
    }
}

/// The crate's contract: randomness comes only from the configured seed, so a run is a pure
/// function of its inputs. The calls waiting for a tunnel get their ICRQs (and Session IDs, RFC
/// 2661 3.1) in the same order every time, so each call gets the same session.
#[test]
fn the_same_seed_sends_the_same_datagrams() {
    let first = eight_calls_transcript(13);
    let up = |e: &super::Event| matches!(e, super::Event::SessionUp { .. });
    assert_eq!(first.1.iter().filter(|e| up(e)).count(), 8, "{:?}", first.1);
    for _ in 0..4 {
        assert_eq!(eight_calls_transcript(13), first);
    }
}

/// One timer per tunnel, armed lazily (its deadline moved without a heap operation), keeps the protocol's times: after the SCCCN
/// acknowledges the SCCRP (whose retransmission timer stays armed and fires early, sending
/// nothing), HELLO goes `hello_interval` after the last message from the peer (RFC 2661 5.5,
/// 6.5), and, unacknowledged, is retransmitted after the first timeout and again after twice it
/// (5.8, Appendix A).
#[test]
fn the_tunnel_timer_keeps_the_hello_and_retransmission_times() {
    use super::wire::{ControlMessage, Message, MessageType};
    let t0 = Instant::now();
    let cfg = LnsConfig {
        common: Config {
            hello_interval: Duration::from_secs(10),
            retransmit_initial: Duration::from_secs(1),
            retransmit_cap: Duration::from_secs(8),
            ..common()
        },
        ..LnsConfig::default()
    };
    let mut lns = Lns::new(cfg, t0).unwrap();
    let (lac, me) = (
        "10.0.9.1:1701".parse().unwrap(),
        "10.0.0.1:1701".parse().unwrap(),
    );
    let sccrq = Message::Control(ControlMessage::sccrq(5, b"lac".as_slice(), 3)).to_vec();
    lns.handle_datagram(t0, lac, me, &sccrq).unwrap();
    let lns_id = std::iter::from_fn(|| lns.poll_transmit())
        .find_map(|t| match Message::parse(&t.payload) {
            Ok(Message::Control(c)) => c.assigned_tunnel_id(),
            _ => None,
        })
        .expect("SCCRP");
    let t1 = t0 + Duration::from_millis(500);
    let mut scccn = ControlMessage::scccn(lns_id);
    (scccn.header.ns, scccn.header.nr) = (1, 1);
    lns.handle_datagram(t1, lac, me, &Message::Control(scccn).to_vec())
        .unwrap();
    while lns.poll_transmit().is_some() {}
    let (mut now, end) = (t1, t1 + Duration::from_secs(14));
    let mut sent = Vec::new();
    for _ in 0..64 {
        let Some(at) = lns.poll_timeout().filter(|&at| at <= end) else {
            break;
        };
        now = now.max(at);
        lns.handle_timeout(now);
        while let Some(t) = lns.poll_transmit() {
            let ty = match Message::parse(&t.payload) {
                Ok(Message::Control(c)) => c.message_type(),
                _ => None,
            };
            sent.push((now - t1, ty));
        }
    }
    let hello = Some(MessageType::HELLO);
    let s = Duration::from_secs;
    assert_eq!(sent, vec![(s(10), hello), (s(11), hello), (s(13), hello)]);
}

/// A LAC's contact LNS and alternates are where its SCCRQs go: port 0 is reserved (RFC 6335
/// section 6) and the unspecified address is never a destination (RFC 1122 section 3.2.1.3 (a),
/// RFC 4291 section 2.5.2), so either is refused, naming the field and the address.
#[test]
fn a_lac_refuses_an_unusable_lns_address() {
    let now = Instant::now();
    for bad in ["10.0.0.1:0", "0.0.0.0:1701", "[::]:1701"] {
        let addr: std::net::SocketAddr = bad.parse().unwrap();
        let mut c = lac_config();
        c.contact_lns = addr;
        assert_eq!(
            Lac::new(c, now).err(),
            Some(ConfigError::UnusableAddress {
                field: ConfigField::ContactLns,
                addr
            }),
            "{bad}"
        );
        let mut c = lac_config();
        c.alternates = vec!["10.0.0.2:1701".parse().unwrap(), addr];
        assert_eq!(
            Lac::new(c, now).err(),
            Some(ConfigError::UnusableAddress {
                field: ConfigField::Alternates,
                addr
            }),
            "{bad}"
        );
    }
}

/// An LNS pool member's peers come to the health monitor, which refuses one at port 0 (RFC
/// 6335 section 6) as the monitor's own typed error; a cluster key under 16 octets likewise
/// (RFC 2104 section 3).
#[test]
fn an_lns_membership_with_an_unusable_peer_or_short_key_is_refused() {
    let now = Instant::now();
    let refusal = |m| {
        let cfg = LnsConfig {
            common: common(),
            membership: Some(m),
            ..LnsConfig::default()
        };
        Lns::new(cfg, now).err()
    };
    let addr: std::net::SocketAddr = "10.0.0.2:0".parse().unwrap();
    let mut m = membership();
    m.peers.push((NodeId(2), addr));
    assert_eq!(
        refusal(m),
        Some(ConfigError::Health(health::ConfigError::UnusableAddress {
            node: NodeId(2),
            addr
        }))
    );
    let mut m = membership();
    m.key = ClusterKey::new(b"short key");
    assert_eq!(
        refusal(m),
        Some(ConfigError::Health(health::ConfigError::KeyTooShort {
            octets: 9,
            min: 16
        }))
    );
}
