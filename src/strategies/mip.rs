//! proptest strategies for Mobile IPv4 registration and revocation messages
//! ([`crate::mip::wire`]).

use crate::mip::wire::{
    CVSE_3GPP2_GRE_KEY, Extension, ExtensionType, Header, Message, Reply, ReplyCode, Request,
    RequestFlags, Revocation, RevocationAck, RevocationFlags, VENDOR_3GPP2,
};
use proptest::collection::vec;
use proptest::prelude::*;
use std::borrow::Cow;
use std::net::Ipv4Addr;

fn bytes(max: usize) -> impl Strategy<Value = Cow<'static, [u8]>> {
    vec(any::<u8>(), 0..=max).prop_map(Cow::Owned)
}

fn addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

/// Any Registration Request fixed part.
pub fn request() -> impl Strategy<Value = Request> {
    (
        any::<u8>(),
        any::<u16>(),
        addr(),
        addr(),
        addr(),
        any::<u64>(),
    )
        .prop_map(
            |(f, lifetime, home_address, home_agent, care_of, identification)| Request {
                flags: RequestFlags(f),
                lifetime,
                home_address,
                home_agent,
                care_of,
                identification,
            },
        )
}

/// Any Registration Reply fixed part (any code, known or not).
pub fn reply() -> impl Strategy<Value = Reply> {
    (any::<u8>(), any::<u16>(), addr(), addr(), any::<u64>()).prop_map(
        |(c, lifetime, home_address, home_agent, identification)| Reply {
            code: ReplyCode(c),
            lifetime,
            home_address,
            home_agent,
            identification,
        },
    )
}

/// Any fixed part.
pub fn header() -> impl Strategy<Value = Header> {
    prop_oneof![
        request().prop_map(Header::Request),
        reply().prop_map(Header::Reply)
    ]
}

/// Any extension this codec can emit, of every modelled type and unknown short-format types
/// (skippable or not).
pub fn extension() -> impl Strategy<Value = Extension<'static>> {
    prop_oneof![
        (
            prop_oneof![Just(32u8), Just(33u8), Just(34u8)],
            any::<u32>(),
            bytes(40)
        )
            .prop_map(|(t, spi, authenticator)| Extension::Auth {
                ext_type: ExtensionType(t),
                spi,
                authenticator,
            }),
        (any::<u8>(), any::<u32>(), bytes(40)).prop_map(|(subtype, spi, authenticator)| {
            Extension::GeneralizedAuth {
                subtype,
                spi,
                authenticator,
            }
        }),
        bytes(64).prop_map(Extension::Nai),
        (any::<u16>(), any::<u32>())
            .prop_map(|(flags, timestamp)| Extension::RevocationSupport { flags, timestamp }),
        (any::<u8>(), addr()).prop_map(|(subtype, home_agent)| Extension::DynamicHa {
            subtype,
            home_agent
        }),
        (any::<u8>(), any::<u32>(), any::<u16>(), bytes(40))
            .prop_filter(
                "the 3GPP2 GRE Key CVSE has its own variant",
                |(_, v, t, b)| { (*v, *t, b.len()) != (VENDOR_3GPP2, CVSE_3GPP2_GRE_KEY, 4) }
            )
            .prop_map(
                |(reserved, vendor_id, vendor_type, value)| Extension::Cvse {
                    reserved,
                    vendor_id,
                    vendor_type,
                    value,
                }
            ),
        (any::<u8>(), any::<u32>())
            .prop_map(|(reserved, key)| Extension::GreKeyCvse { reserved, key }),
        (any::<u16>(), any::<u32>(), any::<u16>(), bytes(40)).prop_map(
            |(reserved, vendor_id, vendor_type, value)| Extension::Nvse {
                reserved,
                vendor_id,
                vendor_type,
                value,
            }
        ),
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u16>()
        )
            .prop_map(|(subtype, reserved1, flags, encapsulation, reserved2)| {
                Extension::UdpTunnelRequest {
                    subtype,
                    reserved1,
                    flags,
                    encapsulation,
                    reserved2,
                }
            }),
        (any::<u8>(), any::<u8>(), any::<u16>(), any::<u16>()).prop_map(
            |(subtype, code, flags, keepalive)| Extension::UdpTunnelReply {
                subtype,
                code,
                flags,
                keepalive,
            }
        ),
        (any::<u8>(), bytes(40))
            .prop_map(|(subtype, data)| Extension::PmipNonSkippable { subtype, data }),
        (any::<u8>(), any::<u32>()).prop_map(|(subtype, key)| Extension::GreKey { subtype, key }),
        (
            any::<u8>().prop_filter("not a modelled type", |t| !ExtensionType(*t).is_modelled()),
            bytes(40)
        )
            .prop_map(|(t, data)| Extension::Other {
                ext_type: ExtensionType(t),
                data,
            }),
    ]
}

/// Any registration message with up to `max_ext` extensions.
pub fn message_with(max_ext: usize) -> impl Strategy<Value = Message<'static>> {
    (header(), vec(extension(), 0..=max_ext))
        .prop_map(|(header, extensions)| Message { header, extensions })
}

/// Any registration message (up to 8 extensions).
pub fn message() -> impl Strategy<Value = Message<'static>> {
    message_with(8)
}

/// The encoding of any registration message: well-formed bytes.
pub fn message_bytes() -> impl Strategy<Value = Vec<u8>> {
    message().prop_map(|m| m.to_vec())
}

/// Any Registration Revocation (RFC 3543 section 3.3) with up to 4 extensions, reserved bits
/// included.
pub fn revocation() -> impl Strategy<Value = Revocation<'static>> {
    (
        any::<u8>(),
        any::<u16>(),
        (addr(), addr(), addr()),
        any::<u32>(),
        vec(extension(), 0..=4),
    )
        .prop_map(
            |(reserved, f, (home_address, home_domain, foreign_domain), revocation_id, ext)| {
                Revocation {
                    reserved,
                    flags: RevocationFlags(f),
                    home_address,
                    home_domain,
                    foreign_domain,
                    revocation_id,
                    extensions: ext,
                }
            },
        )
}

/// Any Registration Revocation Acknowledgement (RFC 3543 section 3.4) with up to 4 extensions.
pub fn revocation_ack() -> impl Strategy<Value = RevocationAck<'static>> {
    (
        any::<u8>(),
        any::<u16>(),
        addr(),
        any::<u32>(),
        vec(extension(), 0..=4),
    )
        .prop_map(
            |(reserved, f, home_address, revocation_id, extensions)| RevocationAck {
                reserved,
                flags: RevocationFlags(f),
                home_address,
                revocation_id,
                extensions,
            },
        )
}

/// Any tunnel parameters a binding may keep (every encapsulation, keys present or not).
pub fn tunnel_params() -> impl Strategy<Value = crate::mip::binding::TunnelParams> {
    use crate::mip::binding::{BroadcastDelivery, Encapsulation, TunnelParams, UdpInner};
    let inner = prop_oneof![
        Just(UdpInner::IpInIp),
        Just(UdpInner::Gre),
        Just(UdpInner::Minimal)
    ];
    let encapsulation = prop_oneof![
        Just(Encapsulation::IpInIp),
        Just(Encapsulation::Minimal),
        (any::<Option<u32>>(), any::<Option<u32>>())
            .prop_map(|(okey, ikey)| Encapsulation::Gre { okey, ikey }),
        (inner, addr(), any::<u16>(), any::<u16>(), any::<bool>()).prop_map(
            |(inner, ip, port, keepalive, forced)| Encapsulation::Udp {
                inner,
                peer: std::net::SocketAddrV4::new(ip, port),
                keepalive,
                forced,
            }
        ),
    ];
    let broadcast = prop_oneof![
        Just(None),
        Just(Some(BroadcastDelivery::MobileNodeDecapsulates)),
        Just(Some(BroadcastDelivery::ForeignAgentDelivers)),
    ];
    (addr(), encapsulation, any::<bool>(), broadcast).prop_map(
        |(local, encapsulation, reverse, broadcast)| TunnelParams {
            local,
            encapsulation,
            reverse,
            broadcast,
        },
    )
}
