//! Issue 12 fault 15: seeds from the OS by default, replayable when given.
//!
//! Every configuration's seed used to default to 0, so two endpoints built with defaults drew the
//! same stream: a LAC and an LNS both chose tunnel 52524, and every LNS started with defaults sent
//! the same challenges and Random Vectors, so one captured challenge response could be replayed.
//! RFC 2661 4.3 (Challenge AVP, "a random value") and 5.1.1 (Random Vector AVP, which "should
//! be unpredictable", citing RFC 1750) need these values unpredictable. `seed: None` now reads the
//! OS; `Some(seed)` still replays a run byte for byte.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use telcp::l2tp::wire::{AvpValue, Message, MessageType};
use telcp::l2tp::{Config, Lac, LacConfig, Lns, LnsConfig};
use telcp::sim::Sim;

fn addr(s: &str) -> SocketAddr {
    format!("{s}:1701").parse().unwrap()
}

/// The one place this file sets a seed: a tunnel with a secret, challenges both ways and hidden
/// AVPs (so SCCRQ and SCCRP carry a Challenge and ICRQ a Random Vector).
fn cfg(seed: Option<[u8; 32]>) -> Config {
    Config {
        secret: Some(b"issue-12".to_vec()),
        challenge: true,
        hide_avps: true,
        seed,
        ..Default::default()
    }
}

/// The random values a LAC and an LNS put on the wire while setting up one tunnel and session.
#[derive(Debug, PartialEq, Eq)]
struct Drawn {
    /// Assigned Tunnel ID of the SCCRQ (the LAC's) and the SCCRP (the LNS's): RFC 2661 4.4.3.
    lac_tunnel: u16,
    lns_tunnel: u16,
    /// Challenge AVP of the SCCRQ and the SCCRP: RFC 2661 4.4.3.
    lac_challenge: Vec<u8>,
    lns_challenge: Vec<u8>,
    /// Every Random Vector AVP sent (RFC 2661 4.3): at least the ICRQ's.
    random_vectors: Vec<Vec<u8>>,
    /// Every datagram of the run, for the byte-for-byte comparison.
    payloads: Vec<Vec<u8>>,
}

/// A LAC and an LNS with the given seeds set up one session over a lossless link.
fn run(lac_seed: Option<[u8; 32]>, lns_seed: Option<[u8; 32]>) -> Drawn {
    let now = Instant::now();
    let mut sim = Sim::new(1, now);
    let mut lc = LacConfig::new(addr("10.0.0.1"));
    lc.common = cfg(lac_seed);
    let lac = sim.add_node(
        "lac",
        &[addr("10.0.9.1")],
        None,
        Box::new(Lac::new(lc, now).unwrap()),
    );
    let lns = LnsConfig {
        common: cfg(lns_seed),
        ..Default::default()
    };
    sim.add_node(
        "lns",
        &[addr("10.0.0.1")],
        None,
        Box::new(Lns::new(lns, now).unwrap()),
    );
    let call = sim.node_mut::<Lac>(lac).open_session(now).unwrap();
    sim.run_for(Duration::from_secs(5));
    assert!(sim.node_mut::<Lac>(lac).session_of(call).is_some());

    let mut lac_tunnel = None;
    let mut lns_tunnel = None;
    let mut lac_challenge = None;
    let mut lns_challenge = None;
    let mut random_vectors = Vec::new();
    for r in sim.trace() {
        let Ok(Message::Control(m)) = Message::parse(&r.payload) else {
            continue;
        };
        let mt = m.message_type();
        for a in &m.avps {
            match (&a.value, mt) {
                (AvpValue::AssignedTunnelId(t), Some(MessageType::SCCRQ)) => lac_tunnel = Some(*t),
                (AvpValue::AssignedTunnelId(t), Some(MessageType::SCCRP)) => lns_tunnel = Some(*t),
                (AvpValue::Challenge(c), Some(MessageType::SCCRQ)) => {
                    lac_challenge = Some(c.to_vec())
                }
                (AvpValue::Challenge(c), Some(MessageType::SCCRP)) => {
                    lns_challenge = Some(c.to_vec())
                }
                (AvpValue::RandomVector(v), _) => random_vectors.push(v.to_vec()),
                _ => {}
            }
        }
    }
    assert!(
        !random_vectors.is_empty(),
        "hidden AVPs need a Random Vector (RFC 2661 4.3)"
    );
    Drawn {
        lac_tunnel: lac_tunnel.expect("SCCRQ Assigned Tunnel ID"),
        lns_tunnel: lns_tunnel.expect("SCCRP Assigned Tunnel ID"),
        lac_challenge: lac_challenge.expect("SCCRQ Challenge"),
        lns_challenge: lns_challenge.expect("SCCRP Challenge"),
        random_vectors,
        payloads: sim.trace().iter().map(|r| r.payload.to_vec()).collect(),
    }
}

/// Two LNSs (and two LACs) built with default seeds draw different tunnel ids, challenges and
/// Random Vectors: RFC 2661 4.3 and 5.1.1 want them unpredictable, so a response captured from one
/// cannot be replayed to another. Before this change the defaults were `seed: 0` and every
/// assertion here failed (with `seed(0)`, the old default, the first fails: "two default LNSs,
/// same challenge").
#[test]
fn default_seeds_differ_between_endpoints() {
    let a = run(None, None);
    let b = run(None, None);
    // The two LNSs of the two runs (a 16-octet challenge repeats with probability 2^-128; the
    // LNS and LAC tunnel ids both repeat with probability 2^-32).
    assert_ne!(
        a.lns_challenge, b.lns_challenge,
        "two default LNSs, same challenge"
    );
    assert_ne!(
        (a.lns_tunnel, a.lac_tunnel),
        (b.lns_tunnel, b.lac_tunnel),
        "two default LNSs and LACs, same tunnel ids"
    );
    // The two LACs.
    assert_ne!(
        a.lac_challenge, b.lac_challenge,
        "two default LACs, same challenge"
    );
    // No Random Vector repeats across the runs.
    for v in &a.random_vectors {
        assert!(
            !b.random_vectors.contains(v),
            "Random Vector {v:?} repeated"
        );
    }
    // The LAC and the LNS of one run do not draw the same stream (both chose 52524 before).
    assert_ne!(a.lac_challenge, a.lns_challenge);
}

/// The same `Some(seed)` replays a run byte for byte, for tests and simulations; another seed
/// gives another run.
#[test]
fn the_same_seed_replays_the_run() {
    let a = run(telcp::io::seed(1), telcp::io::seed(2));
    let b = run(telcp::io::seed(1), telcp::io::seed(2));
    assert_eq!(a, b);
    let c = run(telcp::io::seed(1), telcp::io::seed(3));
    assert_eq!(a.lac_tunnel, c.lac_tunnel, "the LAC's seed did not change");
    assert_ne!(a.lns_challenge, c.lns_challenge);
    assert_ne!(a.payloads, c.payloads);
}

/// `io::seed(n)` is the `seed: n` of old: the same stream as `Rng::seed_from_u64(n)`, so every
/// regression seed written before the change still replays the same run.
#[test]
fn seed_n_is_the_old_seed_n() {
    use telcp::Rng;
    for n in [0u64, 1, 5, 1000, u64::MAX] {
        let mut old = Rng::seed_from_u64(n);
        let mut new = Rng::from_config(telcp::io::seed(n)).unwrap();
        for _ in 0..32 {
            assert_eq!(old.next_u64(), new.next_u64(), "seed {n}");
        }
    }
}
