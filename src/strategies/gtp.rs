//! proptest strategies for GTPv1 messages ([`crate::steering::gtp`]).

use crate::steering::gtp::{
    Apn, Body, Cause, EndUserAddress, ExtensionHeader, Header, Ie, IeType, Imsi, Message,
    MessageType,
};
use proptest::collection::vec;
use proptest::prelude::*;
use std::borrow::Cow;
use std::net::IpAddr;

fn bytes(max: usize) -> impl Strategy<Value = Cow<'static, [u8]>> {
    vec(any::<u8>(), 0..=max).prop_map(Cow::Owned)
}

/// TV types that have no typed [`Ie`] variant (kept as [`Ie::Tv`]).
const RAW_TV: [u8; 17] = [
    3, 4, 5, 8, 9, 11, 12, 13, 21, 22, 23, 24, 25, 26, 27, 28, 29,
];
/// TLV types with a typed [`Ie`] variant (never generated as [`Ie::Tlv`]).
const TYPED_TLV: [u8; 8] = [128, 131, 132, 133, 134, 135, 141, 255];

/// Any information element, typed or raw, that parses back equal after emission.
pub fn ie() -> impl Strategy<Value = Ie<'static>> {
    prop_oneof![
        any::<u8>().prop_map(|c| Ie::Cause(Cause(c))),
        any::<[u8; 8]>().prop_map(|b| Ie::Imsi(Imsi(b))),
        any::<u8>().prop_map(Ie::Recovery),
        any::<u8>().prop_map(Ie::SelectionMode),
        any::<u32>().prop_map(Ie::TeidDataI),
        any::<u32>().prop_map(Ie::TeidControl),
        (any::<u8>(), any::<u32>()).prop_map(|(nsapi, teid)| Ie::TeidDataII { nsapi, teid }),
        any::<u8>().prop_map(Ie::TeardownInd),
        any::<u8>().prop_map(Ie::Nsapi),
        any::<u32>().prop_map(Ie::ChargingId),
        (any::<u8>(), any::<u8>(), bytes(20)).prop_map(|(organization, pdp_type, address)| {
            Ie::EndUserAddress(EndUserAddress {
                organization,
                pdp_type,
                address,
            })
        }),
        bytes(40).prop_map(|b| Ie::Apn(Apn(b))),
        bytes(40).prop_map(Ie::Pco),
        any::<IpAddr>().prop_map(Ie::GsnAddress),
        bytes(10).prop_map(Ie::Msisdn),
        bytes(20).prop_map(Ie::QosProfile),
        bytes(10).prop_map(Ie::ExtensionHeaderTypeList),
        (any::<u16>(), bytes(20)).prop_map(|(extension_id, value)| Ie::PrivateExtension {
            extension_id,
            value
        }),
        (proptest::sample::select(&RAW_TV[..]), any::<[u8; 28]>()).prop_map(|(t, v)| {
            let t = IeType(t);
            let len = t.tv_len().unwrap_or(0);
            Ie::Tv {
                ie_type: t,
                value: Cow::Owned(v.get(..len).unwrap_or(&[]).to_vec()),
            }
        }),
        (128u8..=254, bytes(30))
            .prop_filter("typed TLV type", |(t, _)| !TYPED_TLV.contains(t))
            .prop_map(|(t, value)| Ie::Tlv {
                ie_type: IeType(t),
                value
            }),
    ]
}

/// An extension header with a valid length.
pub fn extension_header() -> impl Strategy<Value = ExtensionHeader<'static>> {
    (1u8..=255, 1usize..=3)
        .prop_flat_map(|(t, n)| (Just(t), vec(any::<u8>(), 4 * n - 2)))
        .prop_map(|(ext_type, c)| ExtensionHeader {
            ext_type,
            content: Cow::Owned(c),
        })
}

/// A header for `message_type`, with any combination of optional fields.
pub fn header(message_type: MessageType) -> impl Strategy<Value = Header<'static>> {
    (
        any::<u32>(),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u8>()),
        proptest::option::of(vec(extension_header(), 0..3)),
    )
        .prop_map(move |(teid, sequence, npdu, extensions)| Header {
            message_type,
            teid,
            sequence,
            npdu,
            extensions,
        })
}

/// A message type: every signalling type the codec decodes, G-PDU, or an unknown one.
pub fn message_type() -> impl Strategy<Value = MessageType> {
    prop_oneof![
        proptest::sample::select(vec![1u8, 2, 3, 16, 17, 18, 19, 20, 21, 26, 31, 254]),
        Just(255u8),
        any::<u8>(),
    ]
    .prop_map(MessageType)
}

/// Any message whose body kind matches its type, so that it parses back equal after emission.
pub fn message() -> impl Strategy<Value = Message<'static>> {
    message_type().prop_flat_map(|t| {
        let body = if t == MessageType::G_PDU {
            bytes(64).prop_map(Body::TPdu).boxed()
        } else if t.has_ies() {
            vec(ie(), 0..8).prop_map(Body::Ies).boxed()
        } else {
            bytes(64).prop_map(Body::Raw).boxed()
        };
        (header(t), body).prop_map(|(header, body)| Message { header, body })
    })
}
