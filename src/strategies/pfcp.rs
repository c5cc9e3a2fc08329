//! proptest strategies for PFCP messages ([`crate::steering::pfcp`]).

use crate::steering::gtp::Apn;
use crate::steering::pfcp::teidri::UpIpResourceInformation;
use crate::steering::pfcp::{
    ApplyAction, Cause, FSeid, FTeid, Header, Ie, IeType, Interface, Message, MessageType, NodeId,
    OuterHeaderCreation, UeIpAddress,
};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

fn bytes(max: usize) -> impl Strategy<Value = Cow<'static, [u8]>> {
    vec(any::<u8>(), 0..=max).prop_map(Cow::Owned)
}

/// IE types with a typed [`Ie`] variant (never generated as [`Ie::Raw`]).
const TYPED: [u16; 16] = [
    19, 20, 21, 29, 42, 44, 56, 57, 60, 81, 84, 93, 96, 108, 109, 116,
];

/// The grouped IE types the codec parses recursively.
fn grouped_type() -> impl Strategy<Value = IeType> {
    (1u16..=200)
        .prop_filter("grouped", |t| IeType(*t).is_grouped())
        .prop_map(IeType)
}

/// A Node ID of any of the three types.
pub fn node_id() -> impl Strategy<Value = NodeId<'static>> {
    prop_oneof![
        any::<Ipv4Addr>().prop_map(NodeId::Ipv4),
        any::<Ipv6Addr>().prop_map(NodeId::Ipv6),
        vec(any::<u8>(), 1..30).prop_map(|b| NodeId::Fqdn(Apn(Cow::Owned(b)))),
    ]
}

/// An F-TEID: assigned (TEID and addresses) or CHOOSE, with or without a Choose ID.
pub fn f_teid() -> impl Strategy<Value = FTeid> {
    prop_oneof![
        (any::<u32>(), of(any::<Ipv4Addr>()), of(any::<Ipv6Addr>()))
            .prop_map(|(teid, ipv4, ipv6)| FTeid::Assigned { teid, ipv4, ipv6 }),
        (any::<bool>(), any::<bool>(), of(any::<u8>())).prop_map(|(ipv4, ipv6, choose_id)| {
            FTeid::Choose {
                ipv4,
                ipv6,
                choose_id,
            }
        }),
    ]
}

/// An Outer Header Creation whose fields are exactly those its description announces.
pub fn outer_header_creation() -> impl Strategy<Value = OuterHeaderCreation> {
    (
        any::<u16>(),
        any::<u32>(),
        any::<Ipv4Addr>(),
        any::<Ipv6Addr>(),
        any::<u16>(),
        any::<[u8; 3]>(),
        any::<[u8; 3]>(),
    )
        .prop_map(|(d, teid, v4, v6, port, c, s)| {
            let on = |bits: u16| d & bits != 0;
            OuterHeaderCreation {
                description: d,
                teid: on(0x0300).then_some(teid),
                ipv4: on(0x1500).then_some(v4),
                ipv6: on(0x2a00).then_some(v6),
                port: on(0x0c00).then_some(port),
                c_tag: on(0x4000).then_some(c),
                s_tag: on(0x8000).then_some(s),
            }
        })
}

/// A UE IP Address with any combination of flags.
pub fn ue_ip_address() -> impl Strategy<Value = UeIpAddress> {
    (
        any::<[bool; 3]>(),
        of(any::<Ipv4Addr>()),
        of(any::<Ipv6Addr>()),
        of(any::<u8>()),
        of(any::<u8>()),
    )
        .prop_map(
            |([destination, choose_ipv4, choose_ipv6], ipv4, ipv6, d, l)| UeIpAddress {
                destination,
                ipv4,
                ipv6,
                choose_ipv4,
                choose_ipv6,
                ipv6_prefix_delegation_bits: d,
                ipv6_prefix_length: l,
            },
        )
}

/// A User Plane IP Resource Information value (TS 29.244 section 8.2.82) that parses back
/// equal: any TEIDRI with a TEID Range that fits it, optional addresses, Network Instance and
/// Source Interface.
pub fn up_ip_resource_information() -> impl Strategy<Value = UpIpResourceInformation<'static>> {
    (
        0u8..=7,
        any::<u8>(),
        of(any::<Ipv4Addr>()),
        of(any::<Ipv6Addr>()),
        of(bytes(12)),
        of(0u8..16),
    )
        .prop_map(
            |(teidri, r, ipv4, ipv6, network_instance, si)| UpIpResourceInformation {
                teidri,
                teid_range: if teidri == 0 { 0 } else { r >> (8 - teidri) },
                ipv4,
                ipv6,
                network_instance,
                source_interface: si.map(Interface),
            },
        )
}

/// A non-grouped element: typed, vendor-specific or raw.
pub fn leaf_ie() -> impl Strategy<Value = Ie<'static>> {
    prop_oneof![
        any::<u8>().prop_map(|c| Ie::Cause(Cause(c))),
        (0u8..16).prop_map(|i| Ie::SourceInterface(Interface(i))),
        (0u8..16).prop_map(|i| Ie::DestinationInterface(Interface(i))),
        f_teid().prop_map(Ie::FTeid),
        any::<u32>().prop_map(Ie::Precedence),
        prop_oneof![
            any::<u8>().prop_map(ApplyAction::new),
            any::<u16>().prop_map(|flags| ApplyAction {
                flags,
                extended: true
            }),
        ]
        .prop_map(Ie::ApplyAction),
        any::<u16>().prop_map(Ie::PdrId),
        (any::<u64>(), of(any::<Ipv4Addr>()), of(any::<Ipv6Addr>()))
            .prop_map(|(seid, ipv4, ipv6)| Ie::FSeid(FSeid { seid, ipv4, ipv6 })),
        node_id().prop_map(Ie::NodeId),
        any::<u32>().prop_map(Ie::UrrId),
        outer_header_creation().prop_map(Ie::OuterHeaderCreation),
        ue_ip_address().prop_map(Ie::UeIpAddress),
        any::<u32>().prop_map(Ie::RecoveryTimeStamp),
        any::<u32>().prop_map(Ie::FarId),
        any::<u32>().prop_map(Ie::QerId),
        up_ip_resource_information().prop_map(Ie::UpIpResourceInformation),
        (0x8000u16..=0xffff, any::<u16>(), bytes(20)).prop_map(|(t, enterprise_id, value)| {
            Ie::Enterprise {
                ie_type: IeType(t),
                enterprise_id,
                value,
            }
        }),
        (0u16..0x8000, bytes(30))
            .prop_filter("typed or grouped type", |(t, _)| {
                !TYPED.contains(t) && !IeType(*t).is_grouped()
            })
            .prop_map(|(t, value)| Ie::Raw {
                ie_type: IeType(t),
                value
            }),
    ]
}

/// Any element, grouped ones nested up to three levels deep, that parses back equal after
/// emission.
pub fn ie() -> impl Strategy<Value = Ie<'static>> {
    leaf_ie().prop_recursive(3, 32, 6, |inner| {
        (grouped_type(), vec(inner, 0..6)).prop_map(|(ie_type, ies)| Ie::Grouped { ie_type, ies })
    })
}

/// A message type: every type of TS 29.244 table 7.3-1 the codec names, or any other.
pub fn message_type() -> impl Strategy<Value = MessageType> {
    prop_oneof![
        proptest::sample::select(vec![
            1u8, 2, 5, 6, 7, 8, 9, 10, 11, 50, 51, 52, 53, 54, 55, 56, 57
        ]),
        any::<u8>(),
    ]
    .prop_map(MessageType)
}

/// A header: SEID, priority and FO in any combination, a 24-bit sequence number.
pub fn header() -> impl Strategy<Value = Header> {
    (
        message_type(),
        of(any::<u64>()),
        0u32..=0x00ff_ffff,
        of(0u8..16),
        any::<bool>(),
    )
        .prop_map(
            |(message_type, seid, sequence, priority, follow_on)| Header {
                message_type,
                seid,
                sequence,
                priority,
                follow_on,
            },
        )
}

/// Any message that parses back equal after emission.
pub fn message() -> impl Strategy<Value = Message<'static>> {
    (header(), vec(ie(), 0..8)).prop_map(|(header, ies)| Message { header, ies })
}
