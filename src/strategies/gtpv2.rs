//! proptest strategies for GTPv2-C messages ([`crate::steering::gtpv2`]).

use crate::steering::gtpv2::{
    Ambr, Apn, BearerQos, Cause, CauseValue, Fteid, Header, Ie, IeType, IeValue, InterfaceType,
    MAX_BIT_RATE, MAX_SEQUENCE, Message, MessageType, OffendingIe, Paa, PlmnId, RatType, Tbcd, Uli,
};
use proptest::collection::vec;
use proptest::prelude::*;
use std::borrow::Cow;

fn bytes(max: usize) -> impl Strategy<Value = Cow<'static, [u8]>> {
    vec(any::<u8>(), 0..=max).prop_map(Cow::Owned)
}

/// IE types with an [`IeValue`] variant or grouped (never generated as [`IeValue::Raw`]).
const MODELLED: [u8; 22] = [
    1, 2, 3, 71, 72, 73, 76, 77, 79, 80, 82, 83, 86, 87, 93, 99, 109, 128, 180, 181, 191, 195,
];

/// A Cause IE value, with or without an offending IE.
pub fn cause() -> impl Strategy<Value = Cause> {
    (
        any::<u8>(),
        any::<u8>(),
        proptest::option::of((any::<u8>(), any::<u16>(), any::<u8>())),
    )
        .prop_map(|(v, flags, o)| Cause {
            value: CauseValue(v),
            flags,
            offending: o.map(|(t, length, instance)| OffendingIe {
                ie_type: IeType(t),
                length,
                instance,
            }),
        })
}

/// A PDN Address Allocation of any IP PDN type.
pub fn paa() -> impl Strategy<Value = Paa> {
    prop_oneof![
        any::<std::net::Ipv4Addr>().prop_map(Paa::Ipv4),
        (any::<u8>(), any::<std::net::Ipv6Addr>())
            .prop_map(|(prefix_len, addr)| Paa::Ipv6 { prefix_len, addr }),
        (
            any::<u8>(),
            any::<std::net::Ipv6Addr>(),
            any::<std::net::Ipv4Addr>()
        )
            .prop_map(|(prefix_len, ipv6, ipv4)| Paa::Ipv4v6 {
                prefix_len,
                ipv6,
                ipv4
            }),
    ]
}

/// A Bearer QoS with bit rates within 40 bits.
pub fn bearer_qos() -> impl Strategy<Value = BearerQos> {
    (
        any::<u8>(),
        any::<u8>(),
        [
            0..=MAX_BIT_RATE,
            0..=MAX_BIT_RATE,
            0..=MAX_BIT_RATE,
            0..=MAX_BIT_RATE,
        ],
    )
        .prop_map(|(arp, qci, r)| BearerQos {
            arp,
            qci,
            mbr_uplink: r[0],
            mbr_downlink: r[1],
            gbr_uplink: r[2],
            gbr_downlink: r[3],
        })
}

/// An F-TEID with any interface type and address combination.
pub fn fteid() -> impl Strategy<Value = Fteid> {
    (
        0u8..64,
        any::<u32>(),
        proptest::option::of(any::<std::net::Ipv4Addr>()),
        proptest::option::of(any::<std::net::Ipv6Addr>()),
    )
        .prop_map(|(t, teid, ipv4, ipv6)| Fteid {
            interface_type: InterfaceType(t),
            teid,
            ipv4,
            ipv6,
        })
}

/// Any non-grouped IE value, typed or raw, that parses back equal after emission.
pub fn leaf_value() -> impl Strategy<Value = IeValue<'static>> {
    prop_oneof![
        bytes(8).prop_map(|b| IeValue::Imsi(Tbcd(b))),
        cause().prop_map(IeValue::Cause),
        any::<u8>().prop_map(IeValue::Recovery),
        bytes(30).prop_map(|b| IeValue::Apn(Apn(b))),
        (any::<u32>(), any::<u32>())
            .prop_map(|(uplink, downlink)| IeValue::Ambr(Ambr { uplink, downlink })),
        any::<u8>().prop_map(IeValue::Ebi),
        bytes(8).prop_map(|b| IeValue::Msisdn(Tbcd(b))),
        bytes(6).prop_map(IeValue::Indication),
        paa().prop_map(IeValue::Paa),
        bearer_qos().prop_map(IeValue::BearerQos),
        any::<u8>().prop_map(|r| IeValue::RatType(RatType(r))),
        any::<[u8; 3]>().prop_map(|p| IeValue::ServingNetwork(PlmnId(p))),
        (any::<u8>(), bytes(20)).prop_map(|(flags, parts)| IeValue::Uli(Uli { flags, parts })),
        fteid().prop_map(IeValue::Fteid),
        any::<u8>().prop_map(IeValue::PdnType),
        any::<u8>().prop_map(IeValue::SelectionMode),
        (any::<u8>(), bytes(24))
            .prop_filter("modelled type", |(t, _)| !MODELLED.contains(t))
            .prop_map(|(t, value)| IeValue::Raw {
                ie_type: IeType(t),
                value
            }),
    ]
}

/// Any IE, grouped ones nested up to two levels deep with at most four IEs each (so eight of
/// them stay within the codec's [`crate::steering::gtpv2::MAX_IES`]).
pub fn ie() -> impl Strategy<Value = Ie<'static>> {
    let leaf = (0u8..16, 0u8..16, leaf_value()).prop_map(|(spare, instance, value)| Ie {
        spare,
        instance,
        value,
    });
    leaf.prop_recursive(2, 24, 6, |inner| {
        (
            0u8..16,
            proptest::sample::select(vec![93u8, 109, 180, 181, 191, 195]),
            vec(inner, 0..5),
        )
            .prop_map(|(instance, t, ies)| {
                Ie::with_instance(
                    instance,
                    IeValue::Grouped {
                        ie_type: IeType(t),
                        ies,
                    },
                )
            })
    })
}

/// A message type: every named one, or any other.
pub fn message_type() -> impl Strategy<Value = MessageType> {
    prop_oneof![
        proptest::sample::select(vec![
            1u8, 2, 3, 32, 33, 34, 35, 36, 37, 95, 96, 97, 98, 99, 100
        ]),
        any::<u8>(),
    ]
    .prop_map(MessageType)
}

/// A header with or without TEID and message priority.
pub fn header() -> impl Strategy<Value = Header> {
    (
        message_type(),
        proptest::option::of(any::<u32>()),
        0..=MAX_SEQUENCE,
        proptest::option::of(0u8..16),
    )
        .prop_map(|(message_type, teid, sequence, priority)| Header {
            message_type,
            teid,
            sequence,
            priority,
        })
}

fn single() -> impl Strategy<Value = Message<'static>> {
    (header(), vec(ie(), 0..8)).prop_map(|(header, ies)| Message {
        header,
        ies,
        piggybacked: None,
    })
}

/// Any message that parses back equal after emission, sometimes with a piggybacked one.
pub fn message() -> impl Strategy<Value = Message<'static>> {
    (single(), proptest::option::of(single())).prop_map(|(mut m, p)| {
        m.piggybacked = p.map(Box::new);
        m
    })
}
