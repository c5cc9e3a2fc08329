//! How a control message the machines cannot take is refused (RFC 2661 4.1, 4.4.1 to 4.4.3,
//! section 6).

use super::super::InputError;
use super::super::wire::{
    AvpType, ControlMessage, ErrorCode, MessageType, ResultCode, ResultCodeValue,
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

/// How a received control message is refused, when it cannot be taken: the Result 2 error code
/// and, for an SCCRQ (answered without keeping state), the error the endpoint returns.
///
/// * an SCCRQ or SCCRP of a Protocol Version other than 1.0 (RFC 2661 4.4.3): Result Code 5,
///   the Error Code naming version 1.0, the highest supported (4.4.2);
/// * an AVP with M=1 that is not recognised: Error 8 (RFC 2661 4.1);
/// * an AVP RFC 2661 section 6 requires is missing: Error 6. Exception: ICCN and OCCN without
///   (Tx) Connect Speed or Framing Type (6.8, 6.11) are taken, as deployed LACs send them so;
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
    // RFC 2661 4.4.3 (Protocol Version): this protocol is version 1, revision 0. 4.4.2: a
    // requester of another version gets StopCCN Result Code 5, whose Error Code gives the
    // highest version supported. Checked first: another version's message may carry AVPs this
    // one does not know.
    if mt == MessageType::SCCRQ || mt == MessageType::SCCRP {
        if let Some((version, revision)) = m
            .protocol_version()
            .filter(|&v| v != (PROTOCOL_VERSION, PROTOCOL_REVISION))
        {
            return Some((
                ResultCode::with_error(
                    ResultCodeValue::STOPCCN_BAD_VERSION,
                    HIGHEST_VERSION_SUPPORTED,
                    Cow::Owned(
                        format!("protocol version {version}.{revision} not supported").into_bytes(),
                    ),
                ),
                InputError::UnsupportedVersion { version, revision },
            ));
        }
    }
    if let Some((vendor, avp)) = m.unknown_mandatory() {
        return Some((
            rc(
                ErrorCode::UNKNOWN_MANDATORY_AVP,
                format!("unrecognised mandatory AVP {} of vendor {vendor}", avp.0),
            ),
            InputError::UnknownMandatoryAvp { vendor, avp },
        ));
    }
    let lenient = matches!(mt, MessageType::ICCN | MessageType::OCCN);
    let missing = mt.mandatory_avps().iter().copied().find(|&a| {
        !(lenient && (a == AvpType::TX_CONNECT_SPEED || a == AvpType::FRAMING_TYPE)) && !m.has(a)
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
