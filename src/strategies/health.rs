//! Strategies for [`crate::health`]: heartbeats, and raw datagrams that are correctly signed but
//! otherwise arbitrary (to check `emit(parse(b)) == b` on whatever parses).

use crate::health::{Heartbeat, Load, MAX_ADDRESSES, NodeId, Role};
use crate::io::HmacMd5Key;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Any IPv4 or IPv6 address.
pub fn ip_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

/// Any valid load (percentage 0..=100, counts unconstrained).
pub fn load() -> impl Strategy<Value = Load> {
    (any::<u32>(), any::<u32>(), 0u8..=100).prop_map(|(used, capacity, percent)| Load {
        used,
        capacity,
        percent,
    })
}

/// Any valid heartbeat.
pub fn heartbeat() -> impl Strategy<Value = Heartbeat> {
    (
        any::<u32>(),
        any::<u8>(),
        any::<u32>(),
        any::<u64>(),
        load(),
        proptest::collection::vec(ip_addr(), 0..=MAX_ADDRESSES),
    )
        .prop_map(
            |(node, role, incarnation, sequence, load, addrs)| Heartbeat {
                node: NodeId(node),
                role: Role(role),
                incarnation,
                sequence,
                load,
                addresses: addrs.into_iter().collect(),
            },
        )
}

/// Datagrams that start with the heartbeat magic and version, continue with arbitrary octets
/// biased towards valid fields, and end with a correct HMAC-MD5 under `key`.
pub fn signed_bytes(key: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    let addr = prop_oneof![
        4 => any::<[u8; 4]>().prop_map(|a| (4u8, a.to_vec())),
        4 => any::<[u8; 16]>().prop_map(|a| (6u8, a.to_vec())),
        1 => (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..=16)),
    ];
    (
        any::<[u8; 4]>(),
        any::<u8>(),
        prop_oneof![4 => 0u8..=100, 1 => any::<u8>()],
        prop_oneof![4 => Just(None), 1 => any::<u8>().prop_map(Some)],
        prop_oneof![4 => Just(0u8), 1 => any::<u8>()],
        any::<[u8; 20]>(),
        proptest::collection::vec(addr, 0..=MAX_ADDRESSES),
    )
        .prop_map(move |(node, role, pct, count, reserved, rest, addrs)| {
            let mut b = vec![0xFF, 0x48, 0x42, 1];
            b.extend_from_slice(&node);
            let count = count.unwrap_or(addrs.len() as u8);
            b.extend_from_slice(&[role, pct, count, reserved]);
            b.extend_from_slice(&rest);
            for (fam, body) in addrs {
                b.push(fam);
                b.extend_from_slice(&body);
            }
            HmacMd5Key::new(key).seal(&mut b);
            b
        })
}
