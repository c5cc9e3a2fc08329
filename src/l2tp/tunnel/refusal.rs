//! How a control message the machines cannot take is refused (RFC 2661 4.1, 4.4.1 to 4.4.3,
//! section 6).

use super::super::InputError;
use super::super::wire::{
    AvpType, AvpValue, ControlMessage, ErrorCode, MessageType, ResultCode, ResultCodeValue,
};
use std::borrow::Cow;

/// The Protocol Version this implementation speaks (RFC 2661 4.4.3: version 1, revision 0).
const PROTOCOL_VERSION: u8 = 1;
/// See [`PROTOCOL_VERSION`].
const PROTOCOL_REVISION: u8 = 0;
/// The Error Code of a StopCCN with Result Code 5: the highest version supported (RFC 2661
/// 4.4.2), laid out as the Protocol Version AVP's value (Ver octet, then Rev octet), so 1.0.
const HIGHEST_VERSION_SUPPORTED: ErrorCode =
    ErrorCode(u16::from_be_bytes([PROTOCOL_VERSION, PROTOCOL_REVISION]));

/// RFC 2661 4.4.3 (Protocol Version): this protocol is version 1, revision 0. 4.4.2: the sender
/// of an SCCRQ or SCCRP of another version gets StopCCN Result Code 5, whose Error Code gives
/// the highest version supported.
fn bad_version(
    m: &ControlMessage<'_>,
    mt: MessageType,
) -> Option<(ResultCode<'static>, InputError)> {
    if mt != MessageType::SCCRQ && mt != MessageType::SCCRP {
        return None;
    }
    let (version, revision) = m
        .protocol_version()
        .filter(|&v| v != (PROTOCOL_VERSION, PROTOCOL_REVISION))?;
    Some((
        ResultCode::with_error(
            ResultCodeValue::STOPCCN_BAD_VERSION,
            HIGHEST_VERSION_SUPPORTED,
            Cow::Owned(format!("protocol version {version}.{revision} not supported").into_bytes()),
        ),
        InputError::UnsupportedVersion { version, revision },
    ))
}

/// Whether `v`, the value of an AVP kept raw, is of a type RFC 2661 (or RFC 3145, RFC 4951)
/// defines and this crate reads, without a reserved bit set: kept raw because its value broke
/// the type's length rule (4.4; [`super::super::wire::message`] docs), not because it is unknown.
fn malformed(v: &AvpValue<'_>) -> bool {
    matches!(v, AvpValue::Raw { vendor: 0, attr, reserved: 0, .. } if attr.name().is_some())
}

/// The refusal of the first AVP with M=1 this crate cannot interpret, (vendor, type) `key`:
/// Error 2 "Length is wrong" (RFC 2661 4.4.2) for a known type whose value broke its length
/// rule (`malformed`), else Error 8, an unrecognised mandatory AVP (4.1).
fn uninterpretable(
    (vendor, avp): (u16, AvpType),
    malformed: bool,
) -> (ResultCode<'static>, InputError) {
    let rc = |e: ErrorCode, text: String| {
        ResultCode::with_error(ResultCodeValue(2), e, Cow::Owned(text.into_bytes()))
    };
    if malformed {
        return (
            rc(
                ErrorCode::BAD_LENGTH,
                format!("mandatory AVP {} with a value of the wrong length", avp.0),
            ),
            InputError::MalformedMandatoryAvp { avp },
        );
    }
    (
        rc(
            ErrorCode::UNKNOWN_MANDATORY_AVP,
            format!("unrecognised mandatory AVP {} of vendor {vendor}", avp.0),
        ),
        InputError::UnknownMandatoryAvp { vendor, avp },
    )
}

/// How a received control message is refused, when it cannot be taken: the Result 2 error code
/// and, for an SCCRQ (answered without keeping state), the error the endpoint returns.
///
/// * an SCCRQ or SCCRP of a Protocol Version other than 1.0 (RFC 2661 4.4.3): Result Code 5,
///   the Error Code naming version 1.0, the highest supported (4.4.2);
/// * an AVP with M=1 that is not recognised: Error 8 (RFC 2661 4.1); one of a type this crate
///   reads whose value breaks the type's length rule (kept raw by the parser): Error 2, "Length
///   is wrong" (4.4.2), the AVP being one the machines cannot interpret all the same;
/// * an AVP RFC 2661 section 6 requires is missing: Error 6. Exception: ICCN and OCCN without
///   (Tx) Connect Speed or Framing Type (6.8, 6.11) are taken, as deployed LACs send them so.
///   An AVP that arrived hidden and stayed so (the tunnel has no secret to unhide it with, RFC
///   2661 4.3) has no value to act on: it is missing too (an ICRQ whose Assigned Session ID
///   cannot be read is not served as if the peer's Session ID were 0);
/// * an Assigned Tunnel ID or Assigned Session ID of 0 (4.4.3, 4.4.4: the id is non-zero):
///   Error 3.
///
/// StopCCN and CDN are never refused: they clear the tunnel or session anyway.
pub(crate) fn refusal(m: &ControlMessage<'_>) -> Option<(ResultCode<'static>, InputError)> {
    let mt = m.message_type()?;
    if mt == MessageType::STOPCCN || mt == MessageType::CDN {
        return None;
    }
    let rc = |e: ErrorCode, text: String| {
        ResultCode::with_error(ResultCodeValue(2), e, Cow::Owned(text.into_bytes()))
    };
    // Checked first: another version's message may carry AVPs this one does not know.
    if let Some(r) = bad_version(m, mt) {
        return Some(r);
    }
    let seen = Seen::of(m);
    if let Some(key) = seen.unknown {
        return Some(uninterpretable(key, seen.malformed));
    }
    let lenient = matches!(mt, MessageType::ICCN | MessageType::OCCN);
    let missing = mt.mandatory_avps().iter().copied().find(|&a| {
        !(lenient && (a == AvpType::TX_CONNECT_SPEED || a == AvpType::FRAMING_TYPE))
            && !seen.has(m, a)
    });
    if let Some(avp) = missing {
        return Some((
            rc(ErrorCode::VENDOR_ERROR, format!("{mt} lacks {avp}")),
            InputError::MissingAvp { message: mt, avp },
        ));
    }
    let zero = if seen.tunnel_id == Some(0) {
        Some(AvpType::ASSIGNED_TUNNEL_ID)
    } else if seen.session_id == Some(0) {
        Some(AvpType::ASSIGNED_SESSION_ID)
    } else {
        None
    };
    zero.map(|avp| {
        (
            rc(ErrorCode::BAD_VALUE, format!("{mt} assigns id 0 ({avp})")),
            InputError::MissingAvp { message: mt, avp },
        )
    })
}

/// What [`refusal`] reads of a message's AVPs, gathered in one pass over them (one pass per
/// check before: some 250 instructions per ICRQ): the answers of
/// [`ControlMessage::unknown_mandatory`], [`ControlMessage::has`] (for IETF types below 64),
/// [`ControlMessage::assigned_tunnel_id`] and [`ControlMessage::assigned_session_id`].
struct Seen {
    /// Bit `t` set: [`ControlMessage::has`] finds IETF type `t` (below 64).
    present: u64,
    /// The first AVP with M=1 not recognised.
    unknown: Option<(u16, AvpType)>,
    /// That AVP is of a known type, its value of the wrong length ([`malformed`]).
    malformed: bool,
    /// The first Assigned Tunnel ID.
    tunnel_id: Option<u16>,
    /// The first Assigned Session ID.
    session_id: Option<u16>,
}

impl Seen {
    fn of(m: &ControlMessage<'_>) -> Seen {
        let mut s = Seen {
            present: 0,
            unknown: None,
            malformed: false,
            tunnel_id: None,
            session_id: None,
        };
        for a in &m.avps {
            match &a.value {
                AvpValue::Raw { .. } => {
                    if a.mandatory && s.unknown.is_none() {
                        s.unknown = Some(a.key());
                        s.malformed = malformed(&a.value);
                    }
                }
                // Still hidden: no secret to read it with, so not present (RFC 2661 4.3).
                AvpValue::Hidden { .. } => {}
                v => {
                    match v {
                        AvpValue::AssignedTunnelId(x) if s.tunnel_id.is_none() => {
                            s.tunnel_id = Some(*x);
                        }
                        AvpValue::AssignedSessionId(x) if s.session_id.is_none() => {
                            s.session_id = Some(*x);
                        }
                        _ => {}
                    }
                    if let (0, t) = v.key()
                        && t.0 < 64
                    {
                        s.present |= 1 << t.0;
                    }
                }
            }
        }
        s
    }

    /// Whether IETF type `t` is present with a value (read from the pass for types below 64).
    fn has(&self, m: &ControlMessage<'_>, t: AvpType) -> bool {
        if t.0 < 64 {
            self.present & (1 << t.0) != 0
        } else {
            readable(m, t)
        }
    }
}

/// [`ControlMessage::has`] less the AVPs still hidden: IETF type `t` is present with a value the
/// machines can read.
fn readable(m: &ControlMessage<'_>, t: AvpType) -> bool {
    m.avps.iter().any(|a| match &a.value {
        AvpValue::Raw { .. } | AvpValue::Hidden { .. } => false,
        v => v.key() == (0, t),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l2tp::wire::Avp;
    use proptest::prelude::*;

    /// [`refusal`] as it read the AVPs before [`Seen`], once per check: the reference.
    fn reference(m: &ControlMessage<'_>) -> Option<(ResultCode<'static>, InputError)> {
        let mt = m.message_type()?;
        if mt == MessageType::STOPCCN || mt == MessageType::CDN {
            return None;
        }
        let rc = |e: ErrorCode, text: String| {
            ResultCode::with_error(ResultCodeValue(2), e, Cow::Owned(text.into_bytes()))
        };
        // Unchanged by `Seen` (it reads one AVP): shared.
        if let Some(r) = bad_version(m, mt) {
            return Some(r);
        }
        if let Some(key) = m.unknown_mandatory() {
            let first = m
                .avps
                .iter()
                .find(|a| a.mandatory && matches!(a.value, AvpValue::Raw { .. }));
            return Some(uninterpretable(
                key,
                first.is_some_and(|a| malformed(&a.value)),
            ));
        }
        let lenient = matches!(mt, MessageType::ICCN | MessageType::OCCN);
        let missing = mt.mandatory_avps().iter().copied().find(|&a| {
            !(lenient && (a == AvpType::TX_CONNECT_SPEED || a == AvpType::FRAMING_TYPE))
                && !readable(m, a)
        });
        if let Some(avp) = missing {
            return Some((
                rc(ErrorCode::VENDOR_ERROR, format!("{mt} lacks {avp}")),
                InputError::MissingAvp { message: mt, avp },
            ));
        }
        let zero = if m.assigned_tunnel_id() == Some(0) {
            Some(AvpType::ASSIGNED_TUNNEL_ID)
        } else if m.assigned_session_id() == Some(0) {
            Some(AvpType::ASSIGNED_SESSION_ID)
        } else {
            None
        };
        zero.map(|avp| {
            (
                rc(ErrorCode::BAD_VALUE, format!("{mt} assigns id 0 ({avp})")),
                InputError::MissingAvp { message: mt, avp },
            )
        })
    }

    /// An AVP of a kind the checks look at: ids (0 or not), the mandatory AVPs of the session
    /// messages, a protocol version, unknown and hidden AVPs (M=0 or 1, IETF or vendor, types
    /// above 64 too), a vendor AVP.
    fn avp() -> impl Strategy<Value = Avp<'static>> {
        let value = prop_oneof![
            (0u16..3).prop_map(AvpValue::AssignedTunnelId),
            (0u16..3).prop_map(AvpValue::AssignedSessionId),
            (0u32..3).prop_map(AvpValue::CallSerialNumber),
            (0u32..3).prop_map(AvpValue::TxConnectSpeed),
            (0u32..3).prop_map(AvpValue::FramingType),
            (0u8..3, 0u8..2)
                .prop_map(|(version, revision)| AvpValue::ProtocolVersion { version, revision }),
            (
                0u16..2,
                prop_oneof![Just(9u16), Just(14), Just(61), Just(70), Just(200)]
            )
                .prop_map(|(vendor, attr)| AvpValue::Raw {
                    vendor,
                    attr: AvpType(attr),
                    reserved: 0,
                    data: Cow::Borrowed(&[1, 2]),
                }),
            (
                0u16..2,
                prop_oneof![Just(9u16), Just(14), Just(15), Just(61)]
            )
                .prop_map(|(vendor, attr)| AvpValue::Hidden {
                    vendor,
                    attr: AvpType(attr),
                    data: Cow::Borrowed(&[3, 4]),
                }),
            Just(AvpValue::LoadBalanceCapable { vendor: 0 }),
        ];
        (value, any::<bool>()).prop_map(|(v, m)| {
            if m {
                Avp::mandatory(v)
            } else {
                Avp::optional(v)
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        /// The one-pass [`refusal`] refuses exactly what the reference does, with the same
        /// Result and Error Codes, for every message type and any AVPs after the Message Type.
        #[test]
        fn one_pass_refusal_is_the_reference(
            mt in prop::sample::select(MessageType::ALL),
            avps in prop::collection::vec(avp(), 0..8),
        ) {
            let mut m = ControlMessage::new(mt, 1, 2);
            m.avps.extend(avps);
            prop_assert_eq!(refusal(&m), reference(&m));
        }
    }

    /// RFC 2661 4.4.3 and 6: an ICRQ whose Assigned Session ID is 0 is refused Error 3 (a bad
    /// value), one without a Call Serial Number Error 6, one with an unrecognised M=1 AVP
    /// Error 8; a complete one is taken.
    #[test]
    fn an_icrq_is_refused_for_what_rfc_2661_requires() {
        let code = |m: &ControlMessage<'_>| refusal(m).map(|(rc, _)| rc.error.map(|(e, _)| e));
        assert_eq!(code(&ControlMessage::icrq(1, 5, 7)), None);
        assert_eq!(
            code(&ControlMessage::icrq(1, 0, 7)),
            Some(Some(ErrorCode::BAD_VALUE))
        );
        let mut m = ControlMessage::icrq(1, 5, 7);
        m.avps
            .retain(|a| !matches!(a.value, AvpValue::CallSerialNumber(_)));
        assert_eq!(code(&m), Some(Some(ErrorCode::VENDOR_ERROR)));
        let mut m = ControlMessage::icrq(1, 5, 7);
        m.avps.push(Avp::mandatory(AvpValue::Raw {
            vendor: 0,
            attr: AvpType(200),
            reserved: 0,
            data: Cow::Borrowed(&[]),
        }));
        assert_eq!(code(&m), Some(Some(ErrorCode::UNKNOWN_MANDATORY_AVP)));
        // RFC 2661 4.3: an Assigned Session ID still hidden (no secret to unhide it) has no
        // value: the ICRQ lacks one.
        let mut m = ControlMessage::icrq(1, 5, 7);
        for a in &mut m.avps {
            if matches!(a.value, AvpValue::AssignedSessionId(_)) {
                a.value = AvpValue::Hidden {
                    vendor: 0,
                    attr: AvpType::ASSIGNED_SESSION_ID,
                    data: Cow::Borrowed(&[1, 2, 3, 4]),
                };
            }
        }
        assert_eq!(code(&m), Some(Some(ErrorCode::VENDOR_ERROR)));
    }
}
