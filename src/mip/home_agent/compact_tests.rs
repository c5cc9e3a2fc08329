//! The compact binding record (one care-of address inline, more in a block; the NAI, pending
//! request and tunnel parameters boxed) carries every field a replica carries: a replicated
//! binding applied on a backup and read back as a replica is the same record (RFC 5944 leaves
//! the cluster to us; the module docs of `mip`: every binding replicated to its backups).

use super::testkit::*;
use super::*;
use crate::mip::binding::{BroadcastDelivery, Encapsulation, TunnelParams};

/// Member 1 of the inline cluster (`testkit::ha`), with simultaneous bindings allowed.
fn ha_simultaneous(now: Instant) -> HomeAgent {
    let members = (1..=3)
        .map(|n| Member {
            node: NodeId(n),
            addr: addr(n),
            mac: MacAddr([2, 0, 0, 0, 0, n as u8]),
            backups: (1..=3).filter(|b| *b != n).map(NodeId).collect(),
        })
        .collect();
    let mut c = HomeAgentConfig::new(NodeId(1), VIP, "10.0.0.0/16".parse().unwrap(), members, KEY);
    c.mode = ForwardMode::Layer3;
    c.wall_clock = WALL;
    c.seed = crate::io::seed(1);
    c.max_simultaneous = crate::mip::binding::MAX_SIMULTANEOUS;
    HomeAgent::new(c, now).unwrap()
}

#[test]
fn a_replica_applied_and_read_back_keeps_every_field() {
    let now = Instant::now();
    let mut h1 = ha_simultaneous(now);
    let mut h2 = ha(2, now);
    hear(&mut h1, &mut h2, now);
    let gre = TunnelParams {
        local: VIP,
        encapsulation: Encapsulation::Gre {
            okey: Some(5),
            ikey: Some(u32::from(home(3))),
        },
        reverse: true,
        broadcast: Some(BroadcastDelivery::MobileNodeDecapsulates),
    };
    // Simultaneous bindings (two care-of addresses), an NAI and a GRE tunnel.
    let mut many = permanent(3, 2, 2, 77);
    many.nai = Some(b"mn3@example.net".to_vec().into_boxed_slice());
    many.state = RecordState::Permanent {
        care_of: vec![
            (
                Ipv4Addr::new(203, 0, 113, 3),
                Some(Duration::from_secs(600)),
            ),
            (
                Ipv4Addr::new(203, 0, 113, 33),
                Some(Duration::from_secs(900)),
            ),
        ],
    };
    many.tunnel = Some(gre);
    // One care-of address (held inline), no NAI.
    let one = permanent(4, 2, 2, 78);
    // A temporary binding: the pending request with its tunnel.
    let mut pending = permanent(5, 2, 2, 79);
    pending.state = RecordState::Temporary {
        care_of: Ipv4Addr::new(203, 0, 113, 5),
        pending_left: Duration::from_secs(2),
    };
    pending.tunnel = Some(gre);
    for r in [many, one, pending] {
        h1.apply(now, NodeId(2), Item::Upsert(r.clone()));
        let s = h1.table.find(r.home_address, r.nai.as_deref()).unwrap();
        assert_eq!(replicate::record(&h1.table, s, now), Some(r));
    }
}
