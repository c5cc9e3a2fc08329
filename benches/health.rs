//! Health costs: heartbeat emit and parse (with HMAC-MD5), a monitor accepting a heartbeat, and
//! selection among 64 peers under each policy.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use telcp::Rng;
use telcp::health::{ClusterKey, Heartbeat, Load, Monitor, MonitorConfig, NodeId, Policy, Role};

fn addr(n: u32) -> SocketAddr {
    SocketAddr::from(([10, 0, (n >> 8) as u8, n as u8], 7000))
}

fn health(c: &mut Criterion) {
    let key = ClusterKey::new(b"bench cluster key");
    let hb = Heartbeat {
        node: NodeId(7),
        role: Role::LNS,
        incarnation: 1,
        sequence: 1,
        load: Load::new(10, 100),
        addresses: ["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()]
            .into_iter()
            .collect(),
    };
    let bytes = hb.to_bytes(&key);
    let mut g = c.benchmark_group("health");
    g.bench_function("heartbeat_emit", |b| {
        let mut buf = Vec::with_capacity(256);
        b.iter(|| {
            buf.clear();
            black_box(&hb).emit(&key, &mut buf);
            black_box(buf.len())
        })
    });
    g.bench_function("heartbeat_parse", |b| {
        b.iter(|| Heartbeat::parse(black_box(&bytes), &key))
    });

    let t0 = Instant::now();
    let peers: Vec<_> = (2..66).map(|i| (NodeId(i), addr(i))).collect();
    let mut cfg = MonitorConfig::new(NodeId(1), Role::CONTACT_LNS, key.clone(), peers);
    cfg.max_peers = 64;
    let mut m = Monitor::new(cfg, t0).unwrap();
    for i in 2..66u32 {
        let hb = Heartbeat {
            node: NodeId(i),
            load: Load::new(i % 50, 100),
            ..hb.clone()
        };
        m.handle_datagram(t0, addr(i), addr(1), &hb.to_bytes(&key))
            .unwrap();
    }
    while m.poll_event().is_some() {}
    g.bench_function("monitor_handle_heartbeat", |b| {
        let mut seq = 1u64;
        b.iter(|| {
            seq += 1;
            let hb = Heartbeat {
                node: NodeId(2),
                sequence: seq,
                ..hb.clone()
            };
            let data = hb.to_bytes(&key);
            m.handle_datagram(t0 + Duration::from_millis(1), addr(2), addr(1), &data)
        })
    });
    let mut rng = Rng::seed_from_u64(1);
    for (name, p) in [
        ("select64_least_loaded", Policy::LeastLoaded),
        ("select64_weighted_spare", Policy::WeightedSpare),
        ("select64_round_robin", Policy::RoundRobin),
    ] {
        g.bench_function(name, |b| b.iter(|| m.select(p, &mut rng, |_| true)));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = health
}
criterion_main!(benches);
