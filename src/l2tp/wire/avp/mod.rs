//! Attribute-Value Pairs (RFC 2661 section 4).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |M|H| rsvd  |      Length       |           Vendor ID           |
//! |         Attribute Type        |        Attribute Value...
//! ```
//!
//! Every AVP of RFC 2661 section 4.4 (types 0..=39, 20 is unassigned), the PPP Disconnect Cause
//! Code of RFC 3145 (46) and the failover AVPs of RFC 4951 (76..=79, see [`FailoverCapability`])
//! parse into a typed [`AvpValue`], its length checked against the AVP's rule (a violation is
//! [`WireError::BadAvpLength`]; in a message the LAC or LNS receives such an AVP is kept raw, see
//! [`super::message`]). AVPs this crate does not know, and AVPs with a reserved bit set
//! (which RFC 2661 4.1 says must be treated as unrecognised), are kept as [`AvpValue::Raw`]
//! with their vendor, type and value, so they survive parse and emit. A hidden AVP (H=1) parses
//! into [`AvpValue::Hidden`] (its ciphertext) unless a secret is given, see [`super::hidden`].
//!
//! # Load-redirection vendor AVPs
//!
//! Two vendor-specific AVPs carry the load redirection of [`crate::l2tp`]. Their Vendor ID is an
//! IANA enterprise number chosen by configuration ([`DEFAULT_ENTERPRISE`] = 32473, reserved for
//! documentation by RFC 5612), and they are always sent with M=0 so that a standard peer ignores
//! them (RFC 2661 4.1). They may be hidden like any AVP.
//!
//! | Attribute type | Name | Value | Length | Carried in |
//! | --- | --- | --- | --- | --- |
//! | 1 | `LoadBalanceCapable` | none | 6 | SCCRQ (tunnel-level) and/or ICRQ: the LAC follows redirects |
//! | 2 | `RedirectTarget` | IPv4 (4 octets) or IPv6 (16 octets) address of the LNS to use instead | 10 or 22 | ICRP; StopCCN answering an SCCRQ-level request |
//!
//! Under the configured enterprise, any other attribute type is kept raw.

use super::WireError;
use super::message::MessageType;
use crate::io::Reader;
use bytes::BufMut;
use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod ext;
mod value;
pub use ext::{
    DisconnectCode, DisconnectDirection, FailoverCapability, FailoverSessionState,
    PppDisconnectCause, SuggestedControlSequence, TunnelRecovery,
};
pub(crate) use value::read_raw_at;

/// The default IANA enterprise number of the load-redirection vendor AVPs: 32473, reserved for
/// documentation by RFC 5612. Deployments set their own in the configuration.
pub const DEFAULT_ENTERPRISE: u16 = 32473;

/// Largest value an AVP can carry: the 10-bit length covers the 6-octet AVP header.
pub const MAX_VALUE_LEN: usize = 1023 - 6;

/// An attribute type (an open newtype: unknown values survive parse and emit).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AvpType(pub u16);

macro_rules! avp_types {
    ($($name:ident = $v:expr, $text:expr;)*) => {
        impl AvpType {
            $(#[doc = $text] pub const $name: AvpType = AvpType($v);)*
            /// The RFC name of an IETF (vendor 0) attribute type, if known.
            pub fn name(self) -> Option<&'static str> {
                match self.0 { $($v => Some($text),)* _ => None }
            }
        }
    };
}

avp_types! {
    MESSAGE_TYPE = 0, "Message Type";
    RESULT_CODE = 1, "Result Code";
    PROTOCOL_VERSION = 2, "Protocol Version";
    FRAMING_CAPABILITIES = 3, "Framing Capabilities";
    BEARER_CAPABILITIES = 4, "Bearer Capabilities";
    TIE_BREAKER = 5, "Tie Breaker";
    FIRMWARE_REVISION = 6, "Firmware Revision";
    HOST_NAME = 7, "Host Name";
    VENDOR_NAME = 8, "Vendor Name";
    ASSIGNED_TUNNEL_ID = 9, "Assigned Tunnel ID";
    RECEIVE_WINDOW_SIZE = 10, "Receive Window Size";
    CHALLENGE = 11, "Challenge";
    Q931_CAUSE_CODE = 12, "Q.931 Cause Code";
    CHALLENGE_RESPONSE = 13, "Challenge Response";
    ASSIGNED_SESSION_ID = 14, "Assigned Session ID";
    CALL_SERIAL_NUMBER = 15, "Call Serial Number";
    MINIMUM_BPS = 16, "Minimum BPS";
    MAXIMUM_BPS = 17, "Maximum BPS";
    BEARER_TYPE = 18, "Bearer Type";
    FRAMING_TYPE = 19, "Framing Type";
    CALLED_NUMBER = 21, "Called Number";
    CALLING_NUMBER = 22, "Calling Number";
    SUB_ADDRESS = 23, "Sub-Address";
    TX_CONNECT_SPEED = 24, "(Tx) Connect Speed";
    PHYSICAL_CHANNEL_ID = 25, "Physical Channel ID";
    INITIAL_RECEIVED_LCP_CONFREQ = 26, "Initial Received LCP CONFREQ";
    LAST_SENT_LCP_CONFREQ = 27, "Last Sent LCP CONFREQ";
    LAST_RECEIVED_LCP_CONFREQ = 28, "Last Received LCP CONFREQ";
    PROXY_AUTHEN_TYPE = 29, "Proxy Authen Type";
    PROXY_AUTHEN_NAME = 30, "Proxy Authen Name";
    PROXY_AUTHEN_CHALLENGE = 31, "Proxy Authen Challenge";
    PROXY_AUTHEN_ID = 32, "Proxy Authen ID";
    PROXY_AUTHEN_RESPONSE = 33, "Proxy Authen Response";
    CALL_ERRORS = 34, "Call Errors";
    ACCM = 35, "ACCM";
    RANDOM_VECTOR = 36, "Random Vector";
    PRIVATE_GROUP_ID = 37, "Private Group ID";
    RX_CONNECT_SPEED = 38, "Rx Connect Speed";
    SEQUENCING_REQUIRED = 39, "Sequencing Required";
    PPP_DISCONNECT_CAUSE_CODE = 46, "PPP Disconnect Cause Code";
    FAILOVER_CAPABILITY = 76, "Failover Capability";
    TUNNEL_RECOVERY = 77, "Tunnel Recovery";
    SUGGESTED_CONTROL_SEQUENCE = 78, "Suggested Control Sequence";
    FAILOVER_SESSION_STATE = 79, "Failover Session State";
}

impl AvpType {
    /// Vendor attribute type of `LoadBalanceCapable` (under the configured enterprise).
    pub const VENDOR_LOAD_BALANCE_CAPABLE: AvpType = AvpType(1);
    /// Vendor attribute type of `RedirectTarget` (under the configured enterprise).
    pub const VENDOR_REDIRECT_TARGET: AvpType = AvpType(2);
}

impl fmt::Display for AvpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({})", self.0),
            None => write!(f, "AVP type {}", self.0),
        }
    }
}

impl fmt::Debug for AvpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AvpType({})", self.0)
    }
}

/// A Result Code value (its meaning depends on the message: StopCCN or CDN).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct ResultCodeValue(pub u16);

impl ResultCodeValue {
    /// StopCCN 1: general request to clear control connection.
    pub const STOPCCN_GENERAL_REQUEST: Self = Self(1);
    /// StopCCN 2: general error, the Error Code says which.
    pub const STOPCCN_GENERAL_ERROR: Self = Self(2);
    /// StopCCN 3: control channel already exists.
    pub const STOPCCN_ALREADY_EXISTS: Self = Self(3);
    /// StopCCN 4: requester is not authorized to establish a control channel.
    pub const STOPCCN_NOT_AUTHORIZED: Self = Self(4);
    /// StopCCN 5: the protocol version of the requester is not supported.
    pub const STOPCCN_BAD_VERSION: Self = Self(5);
    /// StopCCN 6: requester is being shut down.
    pub const STOPCCN_SHUTTING_DOWN: Self = Self(6);
    /// StopCCN 7: finite state machine error.
    pub const STOPCCN_FSM_ERROR: Self = Self(7);
    /// CDN 1: call disconnected due to loss of carrier.
    pub const CDN_LOST_CARRIER: Self = Self(1);
    /// CDN 2: call disconnected for the reason in the Error Code.
    pub const CDN_GENERAL_ERROR: Self = Self(2);
    /// CDN 3: call disconnected for administrative reasons.
    pub const CDN_ADMINISTRATIVE: Self = Self(3);
    /// CDN 4: call failed due to lack of appropriate facilities being available (temporary).
    pub const CDN_TEMPORARY_RESOURCES: Self = Self(4);
    /// CDN 5: call failed due to lack of appropriate facilities being available (permanent).
    pub const CDN_PERMANENT_RESOURCES: Self = Self(5);
    /// CDN 6: invalid destination.
    pub const CDN_INVALID_DESTINATION: Self = Self(6);
    /// CDN 7: call failed due to no carrier detected.
    pub const CDN_NO_CARRIER: Self = Self(7);
    /// CDN 8: call failed due to detection of a busy signal.
    pub const CDN_BUSY: Self = Self(8);
    /// CDN 9: call failed due to lack of a dial tone.
    pub const CDN_NO_DIAL_TONE: Self = Self(9);
    /// CDN 10: call was not established within time allotted by LAC.
    pub const CDN_TIMEOUT: Self = Self(10);
    /// CDN 11: call was connected but no appropriate framing was detected.
    pub const CDN_NO_FRAMING: Self = Self(11);
}

/// A General Error Code (RFC 2661 4.4.2 and the IANA registry).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    /// 0: no general error.
    pub const NO_ERROR: Self = Self(0);
    /// 1: no control connection exists yet for this LAC-LNS pair.
    pub const NO_CONTROL_CONNECTION: Self = Self(1);
    /// 2: length is wrong.
    pub const BAD_LENGTH: Self = Self(2);
    /// 3: one of the field values was out of range or a reserved field was non-zero.
    pub const BAD_VALUE: Self = Self(3);
    /// 4: insufficient resources to handle this operation now.
    pub const INSUFFICIENT_RESOURCES: Self = Self(4);
    /// 5: the Session ID is invalid in this context.
    pub const INVALID_SESSION_ID: Self = Self(5);
    /// 6: a generic vendor-specific error occurred in the LAC.
    pub const VENDOR_ERROR: Self = Self(6);
    /// 7: try another (the LAC should try another LNS it knows of).
    pub const TRY_ANOTHER: Self = Self(7);
    /// 8: shut down due to receipt of an unknown AVP with the M bit set.
    pub const UNKNOWN_MANDATORY_AVP: Self = Self(8);
    /// 9: try another directed: the error message lists the addresses to try.
    pub const TRY_ANOTHER_DIRECTED: Self = Self(9);
    /// 10: next hop unreachable.
    pub const NEXT_HOP_UNREACHABLE: Self = Self(10);
    /// 11: next hop busy.
    pub const NEXT_HOP_BUSY: Self = Self(11);
    /// 12: TSA busy.
    pub const TSA_BUSY: Self = Self(12);
}

/// The value of a Result Code AVP: result code, and optionally an error code and error message.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ResultCode<'a> {
    /// The result code (StopCCN or CDN meaning).
    pub result: ResultCodeValue,
    /// The error code and the (possibly empty) human-readable error message.
    pub error: Option<(ErrorCode, Cow<'a, [u8]>)>,
}

/// At most this many addresses are read from a "try another directed" list.
pub const MAX_DIRECTED_ADDRESSES: usize = 16;

impl<'a> ResultCode<'a> {
    /// A result code without error code.
    pub fn new(result: ResultCodeValue) -> ResultCode<'static> {
        ResultCode {
            result,
            error: None,
        }
    }

    /// A result code with an error code and message.
    pub fn with_error(
        result: ResultCodeValue,
        error: ErrorCode,
        message: impl Into<Cow<'a, [u8]>>,
    ) -> ResultCode<'a> {
        ResultCode {
            result,
            error: Some((error, message.into())),
        }
    }

    /// Result `result` with error 9 "try another directed", whose error message is the address list:
    /// IPv4 dotted quads and bracketed IPv6 addresses joined by `", "`.
    pub fn try_another_directed(result: ResultCodeValue, addrs: &[IpAddr]) -> ResultCode<'static> {
        let list = addrs
            .iter()
            .map(|a| match a {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        ResultCode {
            result,
            error: Some((
                ErrorCode::TRY_ANOTHER_DIRECTED,
                Cow::Owned(list.into_bytes()),
            )),
        }
    }

    /// The error code, if any.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.error.as_ref().map(|e| e.0)
    }

    /// The error message, if any (possibly empty).
    pub fn error_message(&self) -> Option<&[u8]> {
        self.error.as_ref().map(|e| e.1.as_ref())
    }

    /// With error 9 "try another directed": the addresses of the list that parse (at most
    /// [`MAX_DIRECTED_ADDRESSES`]), in order. `None` for any other error code.
    pub fn directed_addresses(&self) -> Option<Vec<IpAddr>> {
        let (code, msg) = self.error.as_ref()?;
        if *code != ErrorCode::TRY_ANOTHER_DIRECTED {
            return None;
        }
        let text = std::str::from_utf8(msg).ok()?;
        Some(
            text.split(',')
                .filter_map(|item| {
                    let item = item.trim();
                    let item = item
                        .strip_prefix('[')
                        .and_then(|s| s.strip_suffix(']'))
                        .unwrap_or(item);
                    item.parse::<IpAddr>().ok()
                })
                .take(MAX_DIRECTED_ADDRESSES)
                .collect(),
        )
    }

    /// An owned copy.
    pub fn into_owned(self) -> ResultCode<'static> {
        ResultCode {
            result: self.result,
            error: self.error.map(|(c, m)| (c, Cow::Owned(m.into_owned()))),
        }
    }

    fn value_len(&self) -> usize {
        2 + self.error.as_ref().map_or(0, |e| 2 + e.1.len())
    }
}

/// The Call Errors AVP value (WEN).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct CallErrors {
    /// CRC errors.
    pub crc: u32,
    /// Framing errors.
    pub framing: u32,
    /// Hardware overruns.
    pub hardware_overruns: u32,
    /// Buffer overruns.
    pub buffer_overruns: u32,
    /// Time-out errors.
    pub timeouts: u32,
    /// Alignment errors.
    pub alignment: u32,
}

/// A typed AVP value.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum AvpValue<'a> {
    /// 0 Message Type (2 octets).
    MessageType(MessageType),
    /// 1 Result Code (2 octets, or 4+ with error code and message).
    ResultCode(ResultCode<'a>),
    /// 2 Protocol Version (version, revision: 1 octet each; L2TPv2 sends 1, 0).
    ProtocolVersion {
        /// Version (1 for RFC 2661).
        version: u8,
        /// Revision (0).
        revision: u8,
    },
    /// 3 Framing Capabilities (4 octets: bit 0 synchronous, bit 1 asynchronous).
    FramingCapabilities(u32),
    /// 4 Bearer Capabilities (4 octets: bit 0 digital, bit 1 analog).
    BearerCapabilities(u32),
    /// 5 Tie Breaker (8 octets).
    TieBreaker(u64),
    /// 6 Firmware Revision (2 octets).
    FirmwareRevision(u16),
    /// 7 Host Name (at least 1 octet).
    HostName(Cow<'a, [u8]>),
    /// 8 Vendor Name.
    VendorName(Cow<'a, [u8]>),
    /// 9 Assigned Tunnel ID (2 octets).
    AssignedTunnelId(u16),
    /// 10 Receive Window Size (2 octets).
    ReceiveWindowSize(u16),
    /// 11 Challenge (at least 1 octet).
    Challenge(Cow<'a, [u8]>),
    /// 12 Q.931 Cause Code (cause code 2, cause message 1, advisory message).
    Q931CauseCode {
        /// Q.931 cause code.
        cause: u16,
        /// Q.931 message type.
        message: u8,
        /// Advisory text.
        advisory: Cow<'a, [u8]>,
    },
    /// 13 Challenge Response (16 octets).
    ChallengeResponse([u8; 16]),
    /// 14 Assigned Session ID (2 octets).
    AssignedSessionId(u16),
    /// 15 Call Serial Number (4 octets).
    CallSerialNumber(u32),
    /// 16 Minimum BPS (4 octets).
    MinimumBps(u32),
    /// 17 Maximum BPS (4 octets).
    MaximumBps(u32),
    /// 18 Bearer Type (4 octets).
    BearerType(u32),
    /// 19 Framing Type (4 octets).
    FramingType(u32),
    /// 21 Called Number.
    CalledNumber(Cow<'a, [u8]>),
    /// 22 Calling Number.
    CallingNumber(Cow<'a, [u8]>),
    /// 23 Sub-Address.
    SubAddress(Cow<'a, [u8]>),
    /// 24 (Tx) Connect Speed (4 octets).
    TxConnectSpeed(u32),
    /// 25 Physical Channel ID (4 octets).
    PhysicalChannelId(u32),
    /// 26 Initial Received LCP CONFREQ.
    InitialReceivedLcpConfreq(Cow<'a, [u8]>),
    /// 27 Last Sent LCP CONFREQ.
    LastSentLcpConfreq(Cow<'a, [u8]>),
    /// 28 Last Received LCP CONFREQ.
    LastReceivedLcpConfreq(Cow<'a, [u8]>),
    /// 29 Proxy Authen Type (2 octets).
    ProxyAuthenType(u16),
    /// 30 Proxy Authen Name.
    ProxyAuthenName(Cow<'a, [u8]>),
    /// 31 Proxy Authen Challenge.
    ProxyAuthenChallenge(Cow<'a, [u8]>),
    /// 32 Proxy Authen ID (2 octets, the ID in the low octet).
    ProxyAuthenId(u16),
    /// 33 Proxy Authen Response.
    ProxyAuthenResponse(Cow<'a, [u8]>),
    /// 34 Call Errors (2 reserved octets, then six 4-octet counters).
    CallErrors(CallErrors),
    /// 35 ACCM (2 reserved octets, send ACCM 4, receive ACCM 4).
    Accm {
        /// Send ACCM.
        send: u32,
        /// Receive ACCM.
        receive: u32,
    },
    /// 36 Random Vector (at least 1 octet).
    RandomVector(Cow<'a, [u8]>),
    /// 37 Private Group ID.
    PrivateGroupId(Cow<'a, [u8]>),
    /// 38 Rx Connect Speed (4 octets).
    RxConnectSpeed(u32),
    /// 39 Sequencing Required (no value).
    SequencingRequired,
    /// 46 PPP Disconnect Cause Code (RFC 3145 3.1: code 2, protocol 2, direction 1, message).
    PppDisconnectCauseCode(PppDisconnectCause<'a>),
    /// 76 Failover Capability (RFC 4951: flags 2 with the C and D bits, Recovery Time 4).
    FailoverCapability(FailoverCapability),
    /// 77 Tunnel Recovery (RFC 4951 5.2: reserved 2; reserved 2, Recover Tunnel ID 2; reserved
    /// 2, Recover Remote Tunnel ID 2).
    TunnelRecovery(TunnelRecovery),
    /// 78 Suggested Control Sequence (RFC 4951: reserved 2, Suggested Ns 2, Suggested Nr 2).
    SuggestedControlSequence(SuggestedControlSequence),
    /// 79 Failover Session State (RFC 4951 5.4: reserved 2; reserved 2, Session ID 2; reserved 2,
    /// Remote Session ID 2).
    FailoverSessionState(FailoverSessionState),
    /// Vendor AVP 1 under the configured enterprise: the LAC can be redirected (no value).
    LoadBalanceCapable {
        /// The enterprise number used as Vendor ID.
        vendor: u16,
    },
    /// Vendor AVP 2 under the configured enterprise: the LNS the LAC should use instead.
    RedirectTarget {
        /// The enterprise number used as Vendor ID.
        vendor: u16,
        /// IPv4 (4 octets) or IPv6 (16 octets) address.
        addr: IpAddr,
    },
    /// A hidden AVP not (yet) unhidden: its ciphertext (original length, value and padding).
    Hidden {
        /// Vendor ID.
        vendor: u16,
        /// Attribute type.
        attr: AvpType,
        /// The encrypted octets.
        data: Cow<'a, [u8]>,
    },
    /// An AVP this crate does not interpret, kept as received (its H bit is [`Avp::hidden`]): an
    /// unknown type or vendor, a reserved bit set, or, in a message the LAC or LNS received, a
    /// known type whose value breaks its length rule ([`super::message`] docs). When it arrived hidden, `data` is
    /// its ciphertext as received, even when it was parsed with the secret: a value received
    /// hidden is never re-emitted in clear (RFC 2661 4.3).
    Raw {
        /// Vendor ID.
        vendor: u16,
        /// Attribute type.
        attr: AvpType,
        /// The four reserved flag bits as received (non-zero makes any AVP unrecognised).
        reserved: u8,
        /// The value.
        data: Cow<'a, [u8]>,
    },
}

/// One AVP: flags and value. `Debug` never shows a value in clear that is secret or was hidden:
/// a typed value marked hidden ([`Avp::withheld`]: it arrived hidden, or is to be hidden) and a
/// Proxy Authen Response (RFC 2661 4.4.5: the CHAP response, or the PAP password itself) show
/// their attribute type and length only; a ciphertext ([`AvpValue::Hidden`]) shows as it is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Avp<'a> {
    /// M bit: a receiver that does not recognise the AVP must refuse the session or tunnel.
    pub mandatory: bool,
    /// The AVP is hidden (RFC 2661 4.3). On the wire its value is [`AvpValue::Hidden`] (the
    /// ciphertext); on a typed value it means "arrived hidden" (after unhiding) or "hide it"
    /// (before [`super::ControlMessage::hide`]); on an [`AvpValue::Raw`] value it means the raw
    /// octets *are* the ciphertext, kept as received.
    ///
    /// A value marked hidden never leaves in clear: [`AvpValue::Hidden`] and hidden raw values
    /// are emitted with H=1 and their ciphertext; a typed value marked hidden must be hidden again
    /// ([`super::ControlMessage::hide`]) before it is sent, and until then [`Avp::emit`] withholds
    /// it (H=1, no value octets, which every peer refuses as a bad hidden AVP;
    /// [`super::ControlMessage::check_encodable`] reports it as [`WireError::NotHidden`]).
    pub hidden: bool,
    /// The value.
    pub value: AvpValue<'a>,
}

impl fmt::Debug for Avp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Avp {
            mandatory,
            hidden,
            value,
        } = self;
        let mut d = f.debug_struct("Avp");
        d.field("mandatory", mandatory).field("hidden", hidden);
        if self.withheld() || matches!(value, AvpValue::ProxyAuthenResponse(_)) {
            let (vendor, attr) = value.key();
            d.field("vendor", &vendor).field("attr", &attr).field(
                "value",
                &format_args!("<{} octets redacted>", value.value_len()),
            );
        } else {
            d.field("value", value);
        }
        d.finish()
    }
}

fn cow_owned(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
    Cow::Owned(c.into_owned())
}

impl<'a> Avp<'a> {
    /// A mandatory (M=1), not hidden AVP.
    pub fn mandatory(value: AvpValue<'a>) -> Self {
        Avp {
            mandatory: true,
            hidden: false,
            value,
        }
    }

    /// An optional (M=0), not hidden AVP.
    pub fn optional(value: AvpValue<'a>) -> Self {
        Avp {
            mandatory: false,
            hidden: false,
            value,
        }
    }

    /// Marks the AVP to be hidden by [`super::ControlMessage::hide`].
    pub fn hide(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// The Vendor ID and attribute type this AVP is sent with.
    #[inline]
    pub fn key(&self) -> (u16, AvpType) {
        self.value.key()
    }

    /// Octets on the wire (6-octet AVP header included).
    pub fn encoded_len(&self) -> usize {
        if self.withheld() {
            6
        } else {
            6 + self.value.value_len()
        }
    }

    /// A typed value marked hidden and not hidden yet: [`Avp::emit`] withholds its value rather
    /// than send it in clear (RFC 2661 4.3).
    pub fn withheld(&self) -> bool {
        self.hidden && !matches!(self.value, AvpValue::Hidden { .. } | AvpValue::Raw { .. })
    }

    /// An owned copy.
    pub fn into_owned(self) -> Avp<'static> {
        Avp {
            mandatory: self.mandatory,
            hidden: self.hidden,
            value: self.value.into_owned(),
        }
    }

    /// Writes the AVP. A value longer than [`MAX_VALUE_LEN`] cannot be encoded (see
    /// [`super::ControlMessage::check_encodable`]); its length field is then wrong. A typed value
    /// marked hidden but not hidden yet is withheld ([`Avp::withheld`]): H=1 and no value octets,
    /// never the value in clear.
    pub fn emit(&self, out: &mut impl BufMut) {
        let (vendor, attr) = self.key();
        let len = self.encoded_len().min(1023) as u16;
        let mut first = len;
        if self.mandatory {
            first |= 0x8000;
        }
        match &self.value {
            AvpValue::Hidden { .. } => first |= 0x4000,
            AvpValue::Raw { reserved, .. } => {
                if self.hidden {
                    first |= 0x4000;
                }
                first |= u16::from(*reserved & 0x0f) << 10;
            }
            _ if self.hidden => first |= 0x4000,
            _ => {}
        }
        out.put_u16(first);
        out.put_u16(vendor);
        out.put_u16(attr.0);
        if !self.withheld() {
            self.value.emit_value(out);
        }
    }
}
