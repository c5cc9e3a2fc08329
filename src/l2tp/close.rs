//! How a session is hung up by command, on either endpoint ([`super::Lac::close_session`],
//! [`super::Lns::close_session`]): the CDN's Result Code (RFC 2661 6.12, 4.4.2) and, when the
//! caller gives one, the PPP Disconnect Cause Code (RFC 3145 3.1, AVP 46).

use super::call::CallDetailsTooLong;
use super::wire::avp::{AvpValue, MAX_VALUE_LEN, PppDisconnectCause};
use super::wire::{ResultCode, ResultCodeValue};

/// What a CDN sent by command carries: its Result Code and, optionally, an RFC 3145 PPP
/// Disconnect Cause Code. Both are reported in [`super::Event::SessionDown`] (`result`,
/// `cause`), at our end and, from the CDN, at the peer's.
///
/// `Close::default()` is Result Code 3 "Session disconnected for administrative reasons"
/// (RFC 2661 4.4.2) without a cause; a bare [`ResultCode`] converts into a `Close` without a
/// cause.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Close {
    /// The CDN's Result Code (RFC 2661 4.4.2, CDN values; Error Code and message optional).
    pub result: ResultCode<'static>,
    /// The PPP Disconnect Cause Code (RFC 3145 3.1): sent as AVP 46 with M=0, so that a peer
    /// without RFC 3145 ignores it. `None`: no AVP 46.
    pub cause: Option<PppDisconnectCause<'static>>,
}

impl Close {
    /// A CDN with `result`, without a cause.
    pub fn new(result: ResultCode<'static>) -> Self {
        Close {
            result,
            cause: None,
        }
    }

    /// This close with the PPP Disconnect Cause Code `cause` (RFC 3145 3.1).
    #[must_use]
    pub fn cause(mut self, cause: PppDisconnectCause<'static>) -> Self {
        self.cause = Some(cause);
        self
    }

    /// Whether the Result Code's message and the cause's message fit in their AVPs (at most
    /// [`MAX_VALUE_LEN`] value octets each).
    pub(crate) fn check(&self) -> Result<(), CallDetailsTooLong> {
        let values = std::iter::once(AvpValue::ResultCode(self.result.clone()))
            .chain(self.cause.clone().map(AvpValue::PppDisconnectCauseCode));
        for v in values {
            if v.value_len() > MAX_VALUE_LEN {
                return Err(CallDetailsTooLong { attr: v.key().1 });
            }
        }
        Ok(())
    }
}

impl Default for Close {
    fn default() -> Self {
        Close::new(ResultCode::new(ResultCodeValue::CDN_ADMINISTRATIVE))
    }
}

impl From<ResultCode<'static>> for Close {
    fn from(result: ResultCode<'static>) -> Self {
        Close::new(result)
    }
}
