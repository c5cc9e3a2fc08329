//! proptest strategies for L2TP wire messages ([`crate::l2tp::wire`]).
//!
//! * [`control_message`]: any control message type of RFC 2661 and RFC 4951 (plus unknown types
//!   and ZLBs) with
//!   its mandatory AVPs and random optional, unknown and still-hidden AVPs.
//! * [`hideable_message`]: a control message with a Random Vector and some typed AVPs marked
//!   hidden, for `hide` / `parse_with(secret)` round trips.
//! * [`data_message`], [`message`].

use crate::l2tp::wire::ControlHeader;
use crate::l2tp::wire::avp::{
    CallErrors, DisconnectCode, DisconnectDirection, FailoverCapability, FailoverSessionState,
    PppDisconnectCause, SuggestedControlSequence, TunnelRecovery,
};
use crate::l2tp::wire::{
    Avp, AvpType, AvpValue, ControlMessage, DEFAULT_ENTERPRISE, DataHeader, DataMessage, ErrorCode,
    Message, MessageType, ResultCode, ResultCodeValue,
};
use proptest::prelude::*;
use std::borrow::Cow;
use std::net::IpAddr;

fn bytes(min: usize, max: usize) -> impl Strategy<Value = Cow<'static, [u8]>> {
    proptest::collection::vec(any::<u8>(), min..=max).prop_map(Cow::Owned)
}

/// A Result Code value (with or without error code and message).
pub fn result_code() -> impl Strategy<Value = ResultCode<'static>> {
    (
        any::<u16>(),
        proptest::option::of((any::<u16>(), bytes(0, 24))),
    )
        .prop_map(|(r, e)| ResultCode {
            result: ResultCodeValue(r),
            error: e.map(|(c, m)| (ErrorCode(c), m)),
        })
}

/// A typed value of the IETF attribute type `attr` (types 0..=39 except 0 and 20, RFC 3145's 46,
/// RFC 4951's 76..=79), or of the two
/// vendor AVPs for [`AvpType::VENDOR_LOAD_BALANCE_CAPABLE`] + 1000 and
/// [`AvpType::VENDOR_REDIRECT_TARGET`] + 1000.
pub fn value_of(attr: u16) -> BoxedStrategy<AvpValue<'static>> {
    use AvpValue::*;
    let u16s = any::<u16>();
    let u32s = any::<u32>();
    match attr {
        1 => result_code().prop_map(ResultCode).boxed(),
        2 => (any::<u8>(), any::<u8>())
            .prop_map(|(version, revision)| ProtocolVersion { version, revision })
            .boxed(),
        3 => u32s.prop_map(FramingCapabilities).boxed(),
        4 => u32s.prop_map(BearerCapabilities).boxed(),
        5 => any::<u64>().prop_map(TieBreaker).boxed(),
        6 => u16s.prop_map(FirmwareRevision).boxed(),
        7 => bytes(1, 32).prop_map(HostName).boxed(),
        8 => bytes(0, 32).prop_map(VendorName).boxed(),
        9 => u16s.prop_map(AssignedTunnelId).boxed(),
        10 => u16s.prop_map(ReceiveWindowSize).boxed(),
        11 => bytes(1, 32).prop_map(Challenge).boxed(),
        12 => (any::<u16>(), any::<u8>(), bytes(0, 16))
            .prop_map(|(cause, message, advisory)| Q931CauseCode {
                cause,
                message,
                advisory,
            })
            .boxed(),
        13 => any::<[u8; 16]>().prop_map(ChallengeResponse).boxed(),
        14 => u16s.prop_map(AssignedSessionId).boxed(),
        15 => u32s.prop_map(CallSerialNumber).boxed(),
        16 => u32s.prop_map(MinimumBps).boxed(),
        17 => u32s.prop_map(MaximumBps).boxed(),
        18 => u32s.prop_map(BearerType).boxed(),
        19 => u32s.prop_map(FramingType).boxed(),
        21 => bytes(0, 20).prop_map(CalledNumber).boxed(),
        22 => bytes(0, 20).prop_map(CallingNumber).boxed(),
        23 => bytes(0, 20).prop_map(SubAddress).boxed(),
        24 => u32s.prop_map(TxConnectSpeed).boxed(),
        25 => u32s.prop_map(PhysicalChannelId).boxed(),
        26 => bytes(0, 24).prop_map(InitialReceivedLcpConfreq).boxed(),
        27 => bytes(0, 24).prop_map(LastSentLcpConfreq).boxed(),
        28 => bytes(0, 24).prop_map(LastReceivedLcpConfreq).boxed(),
        29 => u16s.prop_map(ProxyAuthenType).boxed(),
        30 => bytes(0, 20).prop_map(ProxyAuthenName).boxed(),
        31 => bytes(0, 20).prop_map(ProxyAuthenChallenge).boxed(),
        32 => u16s.prop_map(ProxyAuthenId).boxed(),
        33 => bytes(0, 20).prop_map(ProxyAuthenResponse).boxed(),
        34 => any::<[u32; 6]>()
            .prop_map(|e| {
                CallErrors(self::CallErrors {
                    crc: e[0],
                    framing: e[1],
                    hardware_overruns: e[2],
                    buffer_overruns: e[3],
                    timeouts: e[4],
                    alignment: e[5],
                })
            })
            .boxed(),
        35 => (any::<u32>(), any::<u32>())
            .prop_map(|(send, receive)| Accm { send, receive })
            .boxed(),
        36 => bytes(1, 20).prop_map(RandomVector).boxed(),
        37 => bytes(0, 20).prop_map(PrivateGroupId).boxed(),
        38 => u32s.prop_map(RxConnectSpeed).boxed(),
        39 => Just(SequencingRequired).boxed(),
        46 => (any::<u16>(), any::<u16>(), any::<u8>(), bytes(0, 16))
            .prop_map(|(code, protocol, direction, message)| {
                PppDisconnectCauseCode(PppDisconnectCause {
                    code: DisconnectCode(code),
                    protocol,
                    direction: DisconnectDirection(direction),
                    message,
                })
            })
            .boxed(),
        76 => (any::<bool>(), any::<bool>(), any::<u32>())
            .prop_map(|(control, data, recovery_time_ms)| {
                FailoverCapability(self::FailoverCapability {
                    control,
                    data,
                    recovery_time_ms,
                })
            })
            .boxed(),
        77 => (any::<u16>(), any::<u16>())
            .prop_map(|(tunnel_id, remote_tunnel_id)| {
                TunnelRecovery(self::TunnelRecovery {
                    tunnel_id,
                    remote_tunnel_id,
                })
            })
            .boxed(),
        78 => (any::<u16>(), any::<u16>())
            .prop_map(|(ns, nr)| {
                SuggestedControlSequence(self::SuggestedControlSequence { ns, nr })
            })
            .boxed(),
        79 => (any::<u16>(), any::<u16>())
            .prop_map(|(session_id, remote_session_id)| {
                FailoverSessionState(self::FailoverSessionState {
                    session_id,
                    remote_session_id,
                })
            })
            .boxed(),
        1001 => Just(LoadBalanceCapable {
            vendor: DEFAULT_ENTERPRISE,
        })
        .boxed(),
        _ => any::<IpAddr>()
            .prop_map(|addr| RedirectTarget {
                vendor: DEFAULT_ENTERPRISE,
                addr,
            })
            .boxed(),
    }
}

/// Any typed value other than Message Type.
pub fn typed_value() -> impl Strategy<Value = AvpValue<'static>> {
    prop_oneof![
        (1u16..=19),
        (21u16..=39),
        Just(46u16),
        (76u16..=79),
        (1001u16..=1002)
    ]
    .prop_flat_map(value_of)
}

/// A raw AVP value with a key this crate does not interpret (or with reserved bits set).
pub fn raw_value() -> impl Strategy<Value = AvpValue<'static>> {
    let unknown_key = prop_oneof![
        Just((0u16, 20u16)),
        (40u16..=u16::MAX)
            .prop_filter("typed", |t| *t != 46 && !(76..=79).contains(t))
            .prop_map(|t| (0u16, t)),
        (1u16..=u16::MAX)
            .prop_filter("not our enterprise", |v| *v != DEFAULT_ENTERPRISE)
            .prop_flat_map(|v| any::<u16>().prop_map(move |t| (v, t))),
        (3u16..=u16::MAX).prop_map(|t| (DEFAULT_ENTERPRISE, t)),
    ];
    prop_oneof![
        (unknown_key, bytes(0, 24)).prop_map(|((vendor, attr), data)| AvpValue::Raw {
            vendor,
            attr: AvpType(attr),
            reserved: 0,
            data,
        }),
        (any::<u16>(), any::<u16>(), 1u8..16, bytes(0, 24)).prop_map(
            |(vendor, attr, reserved, data)| AvpValue::Raw {
                vendor,
                attr: AvpType(attr),
                reserved,
                data,
            }
        ),
    ]
}

/// An AVP as it can arrive: typed, raw, or hidden ciphertext (flags consistent with the value).
pub fn avp() -> impl Strategy<Value = Avp<'static>> {
    prop_oneof![
        6 => (any::<bool>(), typed_value()).prop_map(|(mandatory, value)| Avp { mandatory, hidden: false, value }),
        1 => (any::<bool>(), any::<bool>(), raw_value()).prop_map(|(mandatory, hidden, value)| {
            // H=1 with clear reserved bits is a hidden AVP, not a raw one.
            let hidden = hidden && matches!(value, AvpValue::Raw { reserved, .. } if reserved != 0);
            Avp { mandatory, hidden, value }
        }),
        1 => (any::<bool>(), any::<u16>(), any::<u16>(), bytes(2, 40)).prop_map(|(mandatory, vendor, attr, data)| Avp {
            mandatory,
            hidden: true,
            value: AvpValue::Hidden { vendor, attr: AvpType(attr), data },
        }),
    ]
}

fn header() -> impl Strategy<Value = ControlHeader> {
    any::<[u16; 4]>().prop_map(|h| ControlHeader {
        tunnel_id: h[0],
        session_id: h[1],
        ns: h[2],
        nr: h[3],
    })
}

/// A control message of type `mt` with its mandatory AVPs (in random typed-or-hidden form when
/// `allow_hidden_ciphertext`), followed by up to `extra` random optional AVPs.
pub fn control_message_of(
    mt: MessageType,
    extra: usize,
    allow_hidden_ciphertext: bool,
) -> impl Strategy<Value = ControlMessage<'static>> {
    let mandatory: Vec<BoxedStrategy<Avp<'static>>> = mt
        .mandatory_avps()
        .iter()
        .skip(1)
        .map(|t| {
            let attr = t.0;
            let typed = (any::<bool>(), value_of(attr))
                .prop_map(|(mandatory, value)| Avp {
                    mandatory,
                    hidden: false,
                    value,
                })
                .boxed();
            if allow_hidden_ciphertext {
                prop_oneof![
                    3 => typed,
                    1 => bytes(2, 24).prop_map(move |data| Avp {
                        mandatory: true,
                        hidden: true,
                        value: AvpValue::Hidden { vendor: 0, attr: AvpType(attr), data },
                    }),
                ]
                .boxed()
            } else {
                typed
            }
        })
        .collect();
    let optional = proptest::collection::vec(avp(), 0..=extra);
    (header(), mandatory, optional, any::<bool>()).prop_map(move |(header, mand, opt, m)| {
        let mut avps = vec![Avp {
            mandatory: m,
            hidden: false,
            value: AvpValue::MessageType(mt),
        }];
        avps.extend(mand);
        avps.extend(
            opt.into_iter()
                .filter(|a| allow_hidden_ciphertext || !a.hidden),
        );
        ControlMessage { header, avps }
    })
}

/// Any control message: every RFC 2661 type, an unknown type, or a ZLB.
pub fn control_message() -> impl Strategy<Value = ControlMessage<'static>> {
    let types: Vec<MessageType> = MessageType::ALL
        .iter()
        .copied()
        .chain([MessageType(5), MessageType(200)])
        .collect();
    prop_oneof![
        1 => header().prop_map(|header| ControlMessage { header, avps: Vec::new() }),
        12 => proptest::sample::select(types).prop_flat_map(|mt| control_message_of(mt, 6, true)),
    ]
}

/// A control message with a Random Vector right after Message Type and some typed AVPs marked
/// `hidden: true` (not yet hidden): `hide(secret)` then `parse_with(secret)` must give it back.
pub fn hideable_message() -> impl Strategy<Value = ControlMessage<'static>> {
    (
        proptest::sample::select(MessageType::ALL.to_vec())
            .prop_flat_map(|mt| control_message_of(mt, 4, false)),
        bytes(1, 20),
        proptest::collection::vec(any::<bool>(), 16),
    )
        .prop_map(|(mut m, rv, hide)| {
            m.avps.insert(1, Avp::mandatory(AvpValue::RandomVector(rv)));
            for (i, a) in m.avps.iter_mut().enumerate().skip(2) {
                if a.value.is_recognised()
                    && !matches!(a.value, AvpValue::RandomVector(_))
                    && hide.get(i % 16).copied().unwrap_or(false)
                {
                    a.hidden = true;
                }
            }
            m
        })
}

/// A data message with random optional header fields.
pub fn data_message() -> impl Strategy<Value = DataMessage<'static>> {
    (
        any::<(bool, bool, u16, u16)>(),
        proptest::option::of(any::<(u16, u16)>()),
        proptest::option::of(bytes(0, 8)),
        bytes(0, 64),
    )
        .prop_map(
            |((with_length, priority, tunnel_id, session_id), sequence, offset_pad, payload)| {
                DataMessage {
                    header: DataHeader {
                        with_length,
                        priority,
                        tunnel_id,
                        session_id,
                        sequence,
                        offset_pad,
                    },
                    payload,
                }
            },
        )
}

/// Any L2TP message.
pub fn message() -> impl Strategy<Value = Message<'static>> {
    prop_oneof![
        4 => control_message().prop_map(Message::Control),
        1 => data_message().prop_map(Message::Data),
    ]
}

/// A socket address, IPv4 or IPv6, for [`replica_record`].
fn socket_addr() -> impl Strategy<Value = std::net::SocketAddr> {
    (any::<IpAddr>(), any::<u16>()).prop_map(|(ip, port)| std::net::SocketAddr::new(ip, port))
}

/// Call details with the fields a backup holds only ([`crate::l2tp::CallDetails::replicable`]):
/// octet strings mostly short, some at the AVP's bound ([`crate::l2tp::wire::avp::MAX_VALUE_LEN`]).
pub fn replicable_call_details() -> impl Strategy<Value = crate::l2tp::CallDetails> {
    use crate::l2tp::call::{BearerType, FramingType, ProxyAuth, ProxyAuthenType};
    let max = crate::l2tp::wire::avp::MAX_VALUE_LEN;
    let octets = || {
        proptest::option::of(prop_oneof![
            8 => prop::collection::vec(any::<u8>(), 0..32),
            1 => prop::collection::vec(any::<u8>(), max..=max),
        ])
    };
    let auth = proptest::option::of((any::<u16>(), octets())).prop_map(|a| {
        a.map(|(kind, name)| ProxyAuth {
            kind: ProxyAuthenType(kind),
            name,
            ..ProxyAuth::default()
        })
    });
    (
        (octets(), octets(), octets(), octets()),
        proptest::option::of(any::<(u32, u32)>()),
        any::<(Option<u32>, Option<u32>, Option<u32>, Option<u32>)>(),
        (any::<bool>(), auth),
    )
        .prop_map(
            |((calling, called, sub, group), bf, (phys, tx, rx, bearer), (seq, proxy_auth))| {
                crate::l2tp::CallDetails {
                    calling_number: calling,
                    called_number: called,
                    sub_address: sub,
                    bearer_type: bearer.map(BearerType),
                    physical_channel_id: phys,
                    framing_type: bf.map(|(_, f)| FramingType(f)),
                    tx_connect_speed: tx,
                    rx_connect_speed: rx,
                    private_group_id: group,
                    sequencing_required: seq,
                    proxy_auth,
                    ..Default::default()
                }
            },
        )
}

/// Any replication record of the virtual LNS ([`crate::l2tp::replica::Record`]), ids non-zero.
pub fn replica_record() -> impl Strategy<Value = crate::l2tp::replica::Record> {
    use crate::l2tp::replica::{CallRecord, Record, SessionRecord, TunnelRecord};
    let nz = 1..=u16::MAX;
    let tunnel = (
        (nz.clone(), nz.clone(), socket_addr(), socket_addr()),
        any::<(u16, u16, u16, u32)>(),
        (
            proptest::option::of(any::<u32>()),
            any::<bool>(),
            any::<(u32, u32)>(),
        ),
        proptest::option::of(any::<(bool, bool, u32)>()),
    )
        .prop_map(
            |((t, pt, peer, local), (ns, nr, w, f), (b, lbc, (h, epoch)), fo)| {
                Record::Tunnel(Box::new(TunnelRecord {
                    tunnel: t,
                    peer_tunnel: pt,
                    peer,
                    local,
                    ns,
                    nr,
                    peer_window: w,
                    peer_framing_capabilities: f,
                    peer_bearer_capabilities: b,
                    peer_load_balance_capable: lbc,
                    peer_failover: fo.map(|(control, data, recovery_time_ms)| {
                        crate::l2tp::wire::avp::FailoverCapability {
                            control,
                            data,
                            recovery_time_ms,
                        }
                    }),
                    hello_interval_ms: h,
                    epoch,
                }))
            },
        );
    let session = (
        (nz.clone(), nz.clone(), nz.clone()),
        any::<(u32, bool, bool, u16, u16)>(),
        (any::<bool>(), proptest::option::of(any::<u16>())),
    )
        .prop_map(
            |((t, s, ps), (serial, sq, lbc, dns, dnr), (answered, icrp_ns))| {
                Record::Session(SessionRecord {
                    tunnel: t,
                    session: s,
                    peer_session: ps,
                    serial,
                    sequencing: sq,
                    load_balance_capable: lbc,
                    data_ns: dns,
                    data_nr: dnr,
                    answered,
                    // An ICRP Ns only with the call answered (one encoding per record).
                    icrp_ns: icrp_ns.filter(|_| answered),
                })
            },
        );
    let session_sequence =
        (session.clone(), any::<(u16, u16)>()).prop_map(|(rec, (ns, nr))| match rec {
            Record::Session(session) => Record::SessionSequence { session, ns, nr },
            rec => rec,
        });
    let call = (
        session.clone(),
        proptest::option::of(any::<(u16, u16)>()),
        replicable_call_details(),
    )
        .prop_map(|(rec, sequence, details)| match rec {
            Record::Session(session) => Record::Call(Box::new(CallRecord {
                session,
                sequence,
                details: crate::l2tp::call::PackedCallDetails::new(&details),
            })),
            rec => rec,
        });
    let call_update = (nz.clone(), nz.clone(), replicable_call_details()).prop_map(
        |(tunnel, session, details)| Record::CallUpdate {
            tunnel,
            session,
            details: crate::l2tp::call::PackedCallDetails::new(&details),
        },
    );
    prop_oneof![
        tunnel,
        session,
        session_sequence,
        call,
        call_update,
        (nz.clone(), nz.clone())
            .prop_map(|(tunnel, session)| Record::SessionGone { tunnel, session }),
        nz.clone().prop_map(|tunnel| Record::TunnelGone { tunnel }),
        (nz.clone(), any::<(u16, u16)>()).prop_map(|(tunnel, (ns, nr))| Record::TunnelSequence {
            tunnel,
            ns,
            nr
        }),
        (any::<(u32, u32)>(), nz).prop_map(|((incarnation, epoch), tunnel)| {
            Record::TakenOver {
                incarnation,
                tunnel,
                epoch,
            }
        }),
        any::<(u32, u32, u32)>().prop_map(|(member, incarnation, generation)| {
            Record::Claimed {
                member,
                incarnation,
                generation,
            }
        }),
        (any::<u32>(), any::<std::net::IpAddr>())
            .prop_map(|(incarnation, addr)| Record::AddressTaken { incarnation, addr }),
        // An extension kind this version does not know (0x80 is `AddressTaken`).
        (0x81u8..=0xFF, proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(kind, body)| Record::Extension { kind, body }),
    ]
}
