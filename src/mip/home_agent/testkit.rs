//! A three-member cluster for the inline rule tests of the Home Agent's parts.

use super::*;
use crate::mip::wire::Request;

pub(super) const KEY: &[u8] = b"inline cluster key";
pub(super) const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(super) const WALL: Duration = Duration::from_secs(1_700_000_000);

/// The one place the tests of this module choose their seed.
fn seed(node: u32) -> Option<[u8; 32]> {
    crate::io::seed(u64::from(node))
}

pub(super) fn addr(i: u32) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, i as u8), PORT))
}

pub(super) fn home(k: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 1, k as u8)
}

pub(super) fn fa() -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 7), PORT))
}

pub(super) fn mn_sa(k: u32) -> SecurityAssociation {
    SecurityAssociation::new(
        1000 + k,
        AuthAlgorithm::HmacMd5,
        format!("mn-ha key of mn {k}").into_bytes(),
    )
}

/// Member `i` of a three-member cluster (every member backs up the others), layer 3.
pub(super) fn ha(i: u32, now: Instant) -> HomeAgent {
    let members = (1..=3)
        .map(|n| Member {
            node: NodeId(n),
            addr: addr(n),
            mac: MacAddr([2, 0, 0, 0, 0, n as u8]),
            backups: (1..=3).filter(|b| *b != n).map(NodeId).collect(),
        })
        .collect();
    let mut c = HomeAgentConfig::new(NodeId(i), VIP, "10.0.0.0/16".parse().unwrap(), members, KEY);
    c.mode = ForwardMode::Layer3;
    c.wall_clock = WALL;
    c.seed = seed(i);
    for k in 1..=8 {
        c.mobile_nodes.push(MobileNodeKey {
            id: MnId::Home(home(k)),
            sa: mn_sa(k),
        });
    }
    HomeAgent::new(c, now).unwrap()
}

/// The NTP time at `now` for an HA created at `start`.
pub(super) fn ntp(start: Instant, now: Instant) -> u64 {
    NtpTime::from_unix(WALL + now.duration_since(start)).0
}

/// A registration request of mobile node `k` to the virtual address.
pub(super) fn request(k: u32, identification: u64) -> Vec<u8> {
    Builder::request(Request {
        lifetime: 600,
        home_address: home(k),
        home_agent: VIP,
        care_of: Ipv4Addr::new(203, 0, 113, k as u8),
        identification,
        ..Request::default()
    })
    .mn_ha_auth(&mn_sa(k))
    .to_vec()
}

/// A cluster message from `sender` with packet number `pn`.
pub(super) fn cluster(sender: u32, pn: u64, body: Body<'_>) -> Vec<u8> {
    ClusterMessage {
        sender: NodeId(sender),
        incarnation: 1,
        pn,
        body,
    }
    .to_vec(KEY)
}

/// Lets `to` hear the heartbeats of `from` (so it sees `from` Up).
pub(super) fn hear(to: &mut HomeAgent, from: &mut HomeAgent, now: Instant) {
    from.handle_timeout(now);
    let dst = addr(to.node().0);
    while let Some(t) = from.poll_transmit() {
        if t.dst == dst && health::is_heartbeat(&t.payload) {
            let _ = to.handle_datagram(now, addr(from.node().0), dst, &t.payload);
        }
    }
}

/// Everything queued for sending.
pub(super) fn drain(ha: &mut HomeAgent) -> Vec<Transmit> {
    std::iter::from_fn(|| ha.poll_transmit()).collect()
}

/// A permanent replica of mobile node `k` served by `second`.
pub(super) fn permanent(k: u32, first: u32, second: u32, identification: u64) -> Record {
    Record {
        home_address: home(k),
        nai: None,
        first_ha: NodeId(first),
        second_ha: NodeId(second),
        fa: fa(),
        identification,
        state: RecordState::Permanent {
            care_of: vec![(
                Ipv4Addr::new(203, 0, 113, k as u8),
                Some(Duration::from_secs(600)),
            )],
        },
        tunnel: None,
        key: None,
        revocation: None,
    }
}

/// The HA that serves mobile node `k`, as `ha` sees it.
pub(super) fn server(ha: &HomeAgent, k: u32) -> Option<NodeId> {
    ha.binding(home(k), None).map(|b| b.second_ha)
}
