//! proptest strategies for the steering fabric messages ([`crate::steering::fabric`]).

use crate::health::NodeId;
use crate::steering::VirtualId;
use crate::steering::fabric::{
    FabricMessage, SessionProtocol, SessionRecord, TableEntry, VidState,
};
use crate::steering::gtp::Imsi;
use proptest::collection::vec;
use proptest::prelude::*;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A VID.
pub fn vid() -> impl Strategy<Value = VirtualId> {
    (1u16..).prop_filter_map("non-zero", VirtualId::new)
}

/// A session record.
pub fn session_record() -> impl Strategy<Value = SessionRecord> {
    (
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        (any::<IpAddr>(), any::<IpAddr>()),
        (any::<[u8; 8]>(), any::<u8>(), any::<Ipv4Addr>()),
        (session_protocol(), any::<u64>()),
    )
        .prop_map(
            |(
                (teid, version, peer_teid_c, peer_teid_u),
                (peer_c, peer_u),
                (imsi, nsapi, ue),
                (protocol, peer_seid),
            )| {
                SessionRecord {
                    teid,
                    version,
                    peer_teid_c,
                    peer_teid_u,
                    peer_c,
                    peer_u,
                    imsi: Imsi(imsi),
                    nsapi,
                    ue_addr: ue,
                    protocol,
                    peer_seid,
                }
            },
        )
}

/// A session protocol.
pub fn session_protocol() -> impl Strategy<Value = SessionProtocol> {
    prop_oneof![
        Just(SessionProtocol::Gtpv1),
        Just(SessionProtocol::Gtpv2),
        Just(SessionProtocol::Pfcp)
    ]
}

/// A transport address as the fabric carries it (IP and port; no IPv6 flow label or scope).
pub fn sock() -> impl Strategy<Value = SocketAddr> {
    (any::<IpAddr>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(ip, port))
}

fn data() -> impl Strategy<Value = Cow<'static, [u8]>> {
    vec(any::<u8>(), 0..64).prop_map(Cow::Owned)
}

/// Any fabric message.
pub fn fabric_message() -> impl Strategy<Value = FabricMessage<'static>> {
    let entry = (vid(), any::<bool>(), sock()).prop_map(|(vid, up, addr)| TableEntry {
        vid,
        state: if up { VidState::Up } else { VidState::Down },
        addr,
    });
    prop_oneof![
        (any::<u32>(), any::<u32>(), proptest::option::of(vid())).prop_map(
            |(processor, incarnation, current)| FabricMessage::VidRequest {
                processor: NodeId(processor),
                incarnation,
                current,
            }
        ),
        (any::<u32>(), any::<u32>(), vid()).prop_map(|(processor, incarnation, vid)| {
            FabricMessage::VidAssign {
                processor: NodeId(processor),
                incarnation,
                vid,
            }
        }),
        (any::<u64>(), vec(entry, 0..8))
            .prop_map(|(version, entries)| FabricMessage::TableUpdate { version, entries }),
        any::<u64>().prop_map(|version| FabricMessage::TableAck { version }),
        (sock(), sock(), data()).prop_map(|(from, to, data)| FabricMessage::Packet {
            from,
            to,
            data
        }),
        (proptest::option::of(vid()), sock(), sock(), data()).prop_map(
            |(backup, from, to, data)| FabricMessage::Directed {
                backup,
                from,
                to,
                data
            }
        ),
        (sock(), sock(), data()).prop_map(|(from, to, data)| FabricMessage::Transmit {
            from,
            to,
            data
        }),
        (any::<bool>(), session_record())
            .prop_map(|(delete, record)| FabricMessage::Sync { delete, record }),
        (any::<u32>(), any::<u32>())
            .prop_map(|(teid, version)| FabricMessage::SyncAck { teid, version }),
        (any::<u32>(), vec(any::<u32>(), 0..16))
            .prop_map(|(id, teids)| FabricMessage::Purge { id, teids }),
        any::<u32>().prop_map(|id| FabricMessage::PurgeAck { id }),
        (session_protocol(), any::<IpAddr>(), any::<u32>()).prop_map(
            |(protocol, peer, recovery)| {
                FabricMessage::PeerRecovery {
                    protocol,
                    peer,
                    recovery,
                }
            }
        ),
        (session_protocol(), any::<IpAddr>(), any::<u32>()).prop_map(
            |(protocol, peer, recovery)| {
                FabricMessage::PeerRecoveryAck {
                    protocol,
                    peer,
                    recovery,
                }
            }
        ),
    ]
}
