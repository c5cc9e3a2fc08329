//! The monitor's unit tests.

use super::*;

fn addr(n: u32) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n as u8], 1701))
}

fn config(me: u32, peers: &[u32]) -> MonitorConfig {
    MonitorConfig::new(
        NodeId(me),
        Role::LNS,
        ClusterKey::new(b"heartbeat secret"),
        peers.iter().map(|&p| (NodeId(p), addr(p))).collect(),
    )
}

fn drain(m: &mut Monitor) -> Vec<Transmit> {
    std::iter::from_fn(|| m.poll_transmit()).collect()
}

fn events(m: &mut Monitor) -> Vec<HealthEvent> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

#[test]
fn sends_a_round_every_interval() {
    let t0 = Instant::now();
    let mut m = Monitor::new(config(1, &[2, 3]), t0).unwrap();
    assert_eq!(m.poll_timeout(), Some(t0));
    m.handle_timeout(t0);
    let tx = drain(&mut m);
    assert_eq!(tx.len(), 2);
    assert_eq!(tx[0].dst, addr(2));
    let hb = Heartbeat::parse(&tx[0].payload, &ClusterKey::new(b"heartbeat secret")).unwrap();
    assert_eq!((hb.node, hb.sequence, hb.incarnation), (NodeId(1), 1, 1));
    assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    // Spurious timeout: no-op.
    m.handle_timeout(t0 + Duration::from_millis(10));
    assert!(drain(&mut m).is_empty());
}

#[test]
fn up_suspect_down_restart() {
    let t0 = Instant::now();
    let mut a = Monitor::new(config(1, &[2]), t0).unwrap();
    let mut b = Monitor::new(config(2, &[1]), t0).unwrap();
    b.handle_timeout(t0);
    let hb = drain(&mut b).remove(0).payload;
    a.handle_heartbeat(t0, addr(2), &hb).unwrap();
    assert_eq!(events(&mut a), [HealthEvent::Up { node: NodeId(2) }]);
    assert_eq!(a.state(NodeId(2)), Some(NodeState::Up));
    // Replay refused, state unchanged.
    assert!(matches!(
        a.handle_heartbeat(t0, addr(2), &hb),
        Err(HealthError::Replayed { .. })
    ));
    a.handle_timeout(t0 + Duration::from_secs(2));
    assert_eq!(events(&mut a), [HealthEvent::Suspect { node: NodeId(2) }]);
    a.handle_timeout(t0 + Duration::from_secs(4));
    assert_eq!(events(&mut a), [HealthEvent::Down { node: NodeId(2) }]);
    let mut c = config(2, &[1]);
    c.incarnation = 2;
    let mut b2 = Monitor::new(c, t0).unwrap();
    b2.handle_timeout(t0 + Duration::from_secs(5));
    let hb2 = drain(&mut b2).remove(0).payload;
    a.handle_heartbeat(t0 + Duration::from_secs(5), addr(2), &hb2)
        .unwrap();
    assert_eq!(
        events(&mut a),
        [
            HealthEvent::Restarted {
                node: NodeId(2),
                previous: 1,
                incarnation: 2
            },
            HealthEvent::Up { node: NodeId(2) }
        ]
    );
    // The old incarnation is now refused.
    assert!(matches!(
        a.handle_heartbeat(t0 + Duration::from_secs(5), addr(2), &hb),
        Err(HealthError::Replayed { .. })
    ));
}

#[test]
fn unknown_and_full() {
    let t0 = Instant::now();
    let mut a = Monitor::new(config(1, &[2]), t0).unwrap();
    let mut x = Monitor::new(config(9, &[1]), t0).unwrap();
    x.handle_timeout(t0);
    let hb = drain(&mut x).remove(0).payload;
    assert_eq!(
        a.handle_heartbeat(t0, addr(9), &hb),
        Err(HealthError::UnknownNode(NodeId(9)))
    );
    let mut c = config(1, &[2]);
    c.accept_unknown = true;
    c.max_peers = 1;
    let mut a = Monitor::new(c, t0).unwrap();
    assert_eq!(
        a.handle_heartbeat(t0, addr(9), &hb),
        Err(HealthError::Full {
            node: NodeId(9),
            max: 1
        })
    );
    assert!(a.remove_peer(NodeId(2)));
    a.handle_heartbeat(t0, addr(9), &hb).unwrap();
    assert_eq!(a.addr_of(NodeId(9)), Some(addr(9)));
    assert_eq!(a.peers().next().map(|p| p.configured), Some(false));
    // Own id refused.
    let mut own = Monitor::new(config(1, &[5]), t0).unwrap();
    own.handle_timeout(t0);
    let mine = drain(&mut own).remove(0).payload;
    assert_eq!(
        a.handle_heartbeat(t0, addr(1), &mine),
        Err(HealthError::OwnNode(NodeId(1)))
    );
}

#[test]
fn config_errors() {
    let t0 = Instant::now();
    let mut c = config(1, &[2]);
    c.health.misses_down = 2;
    assert!(matches!(
        Monitor::new(c, t0),
        Err(ConfigError::Timing { .. })
    ));
    assert_eq!(
        Monitor::new(config(1, &[2, 2]), t0).err(),
        Some(ConfigError::DuplicatePeer(NodeId(2)))
    );
    assert_eq!(
        Monitor::new(config(1, &[1]), t0).err(),
        Some(ConfigError::PeerIsSelf(NodeId(1)))
    );
    let mut c = config(1, &[2, 3]);
    c.max_peers = 1;
    assert!(matches!(
        Monitor::new(c, t0),
        Err(ConfigError::TooManyPeers { .. })
    ));
    let mut c = config(1, &[]);
    c.health.overload_percent = 0;
    assert_eq!(
        Monitor::new(c, t0).err(),
        Some(ConfigError::OutOfRange(ConfigField::OverloadPercent))
    );
}

#[test]
fn selection_includes_self_and_excludes_overloaded() {
    let t0 = Instant::now();
    let mut a = Monitor::new(config(1, &[2]), t0).unwrap();
    let mut b = Monitor::new(config(2, &[1]), t0).unwrap();
    b.set_load(Load::new(10, 100));
    b.handle_timeout(t0);
    a.handle_heartbeat(t0, addr(2), &drain(&mut b).remove(0).payload)
        .unwrap();
    a.set_load(Load::new(50, 100));
    let mut rng = Rng::seed_from_u64(3);
    assert_eq!(
        a.select(Policy::LeastLoaded, &mut rng, |_| true),
        Some(NodeId(2))
    );
    assert_eq!(
        a.select(Policy::LeastLoaded, &mut rng, |n| n != NodeId(2)),
        Some(NodeId(1))
    );
    a.set_load(Load::new(95, 100));
    assert_eq!(
        a.select(Policy::LeastLoaded, &mut rng, |n| n != NodeId(2)),
        None
    );
    assert_eq!(a.load(NodeId(2)), Some(Load::new(10, 100)));
}

/// RFC 2104 section 3: "The key for HMAC can be of any length ... less than L bytes is strongly
/// discouraged as it would decrease the security strength of the function" (L = 16 for MD5);
/// the cluster key is also the key material of the cluster's AES-128 keys (RFC 4493). A key of
/// 15 octets is refused, typed; 16 octets are accepted.
#[test]
fn a_cluster_key_under_16_octets_is_refused() {
    let t0 = Instant::now();
    let mut c = config(1, &[2]);
    c.key = ClusterKey::new(&[7; 15]);
    assert!(matches!(
        Monitor::new(c, t0),
        Err(ConfigError::KeyTooShort {
            octets: 15,
            min: 16
        })
    ));
    let mut c = config(1, &[2]);
    c.key = ClusterKey::new(&[7; 16]);
    assert!(Monitor::new(c, t0).is_ok());
}

/// A peer's heartbeats could never arrive at port 0 (reserved, RFC 6335 section 6) nor at the
/// unspecified address, which RFC 1122 section 3.2.1.3 (a) and RFC 4291 section 2.5.2 forbid as
/// a destination: such a configured peer is refused, naming it.
#[test]
fn a_peer_at_port_0_or_the_unspecified_address_is_refused() {
    let t0 = Instant::now();
    for bad in ["10.0.0.2:0", "0.0.0.0:1701", "[::]:1701"] {
        let addr: SocketAddr = bad.parse().unwrap();
        let mut c = config(1, &[3]);
        c.peers.push((NodeId(2), addr));
        assert_eq!(
            Monitor::new(c, t0).err(),
            Some(ConfigError::UnusableAddress {
                node: NodeId(2),
                addr
            }),
            "{bad}"
        );
    }
}
