//! L2TP messages: control messages (every RFC 2661 type, RFC 4951's FSQ and FSR, and the ZLB
//! acknowledgement) and data messages.
//!
//! [`Message::parse`] checks the header rules, each AVP's Length (at least its 6 octets of header,
//! within the message), each AVP's value against its type's length rule (RFC 2661 4.4; a
//! violation is [`WireError::BadAvpLength`]) and that the first AVP of a control message is
//! Message Type. The LAC and LNS are more tolerant of what they receive: a control message the
//! strict parse refused only for a value that breaks its type's length rule (a Call Serial
//! Number of 2 octets, a Firmware Revision sent as a version string), each AVP well framed, is
//! read again with that AVP kept as an [`AvpValue::Raw`] AVP with its M bit, one they cannot
//! interpret, so that the message is still acknowledged and answered as RFC 2661 4.1 asks of an
//! AVP they do not recognise: ignored with M=0, the session or tunnel ended with M=1 (Result 2,
//! Error 2 "Length is wrong", 4.4.2). Whether the AVPs RFC 2661 section 6 requires of the message
//! type are present is not a parse error: a control message is first taken by the reliable channel
//! (and so acknowledged), then the tunnel or session machine answers a missing AVP in protocol terms
//! (StopCCN or CDN). [`ControlMessage::check_mandatory`] names the first missing one
//! ([`WireError::MissingAvp`]). Unknown AVPs are kept; [`ControlMessage::unknown_mandatory`] reports
//! the first unknown one with M=1 so that the tunnel or session machine can refuse as RFC 2661 4.1
//! asks (StopCCN or CDN). Unknown message types parse too; the machines decide (RFC 2661 4.4.1).

use super::avp::{
    self, Avp, AvpType, AvpValue, CallErrors, DEFAULT_ENTERPRISE, FailoverSessionState, ResultCode,
};
use super::header::{self, ControlHeader, DataHeader, ParsedHeader};
use super::{Field, WireError, hidden};
use bytes::BufMut;
use std::borrow::Cow;
use std::fmt;

mod access;

/// A control message type (open newtype).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MessageType(pub u16);

macro_rules! message_types {
    ($($name:ident = $v:expr, $abbr:expr, $text:expr, [$($m:ident),*];)*) => {
        impl MessageType {
            $(#[doc = $text] pub const $name: MessageType = MessageType($v);)*
            /// The RFC abbreviation, if the type is known.
            pub fn name(self) -> Option<&'static str> {
                match self.0 { $($v => Some($abbr),)* _ => None }
            }
            /// The AVPs RFC 2661 section 6 makes mandatory in this message (Message Type included).
            pub fn mandatory_avps(self) -> &'static [AvpType] {
                match self.0 { $($v => &[AvpType::MESSAGE_TYPE, $(AvpType::$m),*],)* _ => &[] }
            }
            /// Every message type this crate knows: RFC 2661's and RFC 4951's FSQ and FSR.
            pub const ALL: &'static [MessageType] = &[$(MessageType::$name),*];
        }
    };
}

message_types! {
    SCCRQ = 1, "SCCRQ", "Start-Control-Connection-Request", [PROTOCOL_VERSION, HOST_NAME, FRAMING_CAPABILITIES, ASSIGNED_TUNNEL_ID];
    SCCRP = 2, "SCCRP", "Start-Control-Connection-Reply", [PROTOCOL_VERSION, FRAMING_CAPABILITIES, HOST_NAME, ASSIGNED_TUNNEL_ID];
    SCCCN = 3, "SCCCN", "Start-Control-Connection-Connected", [];
    STOPCCN = 4, "StopCCN", "Stop-Control-Connection-Notification", [ASSIGNED_TUNNEL_ID, RESULT_CODE];
    HELLO = 6, "HELLO", "Hello", [];
    OCRQ = 7, "OCRQ", "Outgoing-Call-Request", [ASSIGNED_SESSION_ID, CALL_SERIAL_NUMBER, MINIMUM_BPS, MAXIMUM_BPS, BEARER_TYPE, FRAMING_TYPE, CALLED_NUMBER];
    OCRP = 8, "OCRP", "Outgoing-Call-Reply", [ASSIGNED_SESSION_ID];
    OCCN = 9, "OCCN", "Outgoing-Call-Connected", [TX_CONNECT_SPEED, FRAMING_TYPE];
    ICRQ = 10, "ICRQ", "Incoming-Call-Request", [ASSIGNED_SESSION_ID, CALL_SERIAL_NUMBER];
    ICRP = 11, "ICRP", "Incoming-Call-Reply", [ASSIGNED_SESSION_ID];
    ICCN = 12, "ICCN", "Incoming-Call-Connected", [TX_CONNECT_SPEED, FRAMING_TYPE];
    CDN = 14, "CDN", "Call-Disconnect-Notify", [RESULT_CODE, ASSIGNED_SESSION_ID];
    WEN = 15, "WEN", "WAN-Error-Notify", [CALL_ERRORS];
    SLI = 16, "SLI", "Set-Link-Info", [ACCM];
    FSQ = 21, "FSQ", "Failover-Session-Query (RFC 4951)", [FAILOVER_SESSION_STATE];
    FSR = 22, "FSR", "Failover-Session-Response (RFC 4951)", [FAILOVER_SESSION_STATE];
}

impl MessageType {
    /// Is this a tunnel-level message (as opposed to a session-level one)? RFC 2661's SCCRQ to
    /// HELLO (1 to 6) and RFC 4951's FSQ and FSR (21, 22: they name their sessions in Failover
    /// Session State AVPs, the header's Session ID is 0).
    pub fn is_tunnel_message(self) -> bool {
        matches!(self.0, 1..=6 | 21 | 22)
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "message type {}", self.0),
        }
    }
}

impl fmt::Debug for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "MessageType::{n}"),
            None => write!(f, "MessageType({})", self.0),
        }
    }
}

/// Parse options: the enterprise number of the vendor AVPs and the tunnel secret for hidden AVPs.
/// `Debug` shows the secret's length only.
#[derive(Clone, Copy)]
pub struct ParseOptions<'s> {
    /// Vendor ID of the load-redirection AVPs.
    pub enterprise: u16,
    /// Tunnel secret: when set, hidden AVPs are unhidden into typed values (with `hidden: true`).
    pub secret: Option<&'s [u8]>,
}

impl fmt::Debug for ParseOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ParseOptions { enterprise, secret } = self;
        f.debug_struct("ParseOptions")
            .field("enterprise", enterprise)
            .field("secret", &crate::l2tp::tunnel::Redacted(*secret))
            .finish()
    }
}

impl Default for ParseOptions<'_> {
    fn default() -> Self {
        ParseOptions {
            enterprise: DEFAULT_ENTERPRISE,
            secret: None,
        }
    }
}

/// A control message; no AVPs at all is a ZLB acknowledgement.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct ControlMessage<'a> {
    /// Tunnel id, session id, Ns, Nr.
    pub header: ControlHeader,
    /// The AVPs in order (Message Type first, unless a ZLB).
    pub avps: Vec<Avp<'a>>,
}

/// A data message: header and PPP frame.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct DataMessage<'a> {
    /// The header.
    pub header: DataHeader<'a>,
    /// The PPP frame.
    pub payload: Cow<'a, [u8]>,
}

/// One L2TP message.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Message<'a> {
    /// A control message (T=1), ZLB included.
    Control(ControlMessage<'a>),
    /// A data message (T=0).
    Data(DataMessage<'a>),
}

impl<'a> Message<'a> {
    /// Parses one datagram with the default options (enterprise 32473, hidden AVPs kept hidden).
    pub fn parse(data: &'a [u8]) -> Result<Message<'a>, WireError> {
        Self::parse_with(data, &ParseOptions::default())
    }

    /// Parses one datagram with `opts`.
    pub fn parse_with(data: &'a [u8], opts: &ParseOptions<'_>) -> Result<Message<'a>, WireError> {
        match header::parse_header(data)? {
            ParsedHeader::Data(header, c) => Ok(Message::Data(DataMessage {
                header,
                payload: Cow::Borrowed(c.rest()),
            })),
            ParsedHeader::Control(header, c) => {
                Ok(Message::Control(ControlMessage::parse_body::<false>(
                    header,
                    c.rest(),
                    c.offset(),
                    opts,
                    Cow::Borrowed,
                )?))
            }
        }
    }

    /// [`Message::parse_with`] into an owned message in one pass: what the message's values hold
    /// is copied as it is parsed (a control message whose AVPs hold only numbers copies nothing).
    /// Equal to `Message::parse_with(data, opts).map(Message::into_owned)`.
    pub fn parse_owned_with(
        data: &[u8],
        opts: &ParseOptions<'_>,
    ) -> Result<Message<'static>, WireError> {
        Self::parse_owned::<false>(data, opts)
    }

    /// [`Message::parse_owned_with`], but an AVP whose value breaks its type's length rule
    /// (RFC 2661 4.4: a Call Serial Number of 2 octets, a Firmware Revision sent as a version
    /// string), the AVP itself well framed, is kept as an [`AvpValue::Raw`] AVP with its M bit
    /// instead of failing the parse with [`WireError::BadAvpLength`] (module docs): how the LAC
    /// and LNS read a control message that the strict parse refused that way.
    pub(crate) fn parse_owned_tolerant(
        data: &[u8],
        opts: &ParseOptions<'_>,
    ) -> Result<Message<'static>, WireError> {
        Self::parse_owned::<true>(data, opts)
    }

    /// [`Message::parse_owned_with`] (`TOLERANT`: [`Message::parse_owned_tolerant`]).
    fn parse_owned<const TOLERANT: bool>(
        data: &[u8],
        opts: &ParseOptions<'_>,
    ) -> Result<Message<'static>, WireError> {
        match header::parse_header(data)? {
            ParsedHeader::Data(header, c) => Ok(Message::Data(DataMessage {
                header: header.into_owned(),
                payload: Cow::Owned(c.rest().to_vec()),
            })),
            ParsedHeader::Control(header, c) => {
                Ok(Message::Control(ControlMessage::parse_body::<TOLERANT>(
                    header,
                    c.rest(),
                    c.offset(),
                    opts,
                    |b| Cow::Owned(b.to_vec()),
                )?))
            }
        }
    }

    /// [`Message::parse_owned_with`], a control message's AVPs put in `spare`'s buffer (taken,
    /// its contents dropped; given back on a parse error) rather than a new one: no allocation
    /// when its capacity suffices. A ZLB or a data message leaves `spare` as it is. The same
    /// message, or the same error, as [`Message::parse_owned_with`].
    #[inline]
    pub(crate) fn parse_owned_reusing(
        data: &[u8],
        opts: &ParseOptions<'_>,
        spare: &mut Vec<Avp<'static>>,
    ) -> Result<Message<'static>, WireError> {
        match header::parse_header(data)? {
            ParsedHeader::Data(header, c) => Ok(Message::Data(DataMessage {
                header: header.into_owned(),
                payload: Cow::Owned(c.rest().to_vec()),
            })),
            ParsedHeader::Control(header, c) if c.rest().is_empty() => {
                Ok(Message::Control(ControlMessage {
                    header,
                    avps: Vec::new(),
                }))
            }
            ParsedHeader::Control(header, c) => {
                let mut avps = std::mem::take(spare);
                avps.clear();
                let own = |b: &[u8]| Cow::Owned(b.to_vec());
                match ControlMessage::parse_avps::<false>(
                    &mut avps,
                    c.rest(),
                    c.offset(),
                    opts,
                    own,
                ) {
                    Ok(()) => Ok(Message::Control(ControlMessage { header, avps })),
                    Err(e) => {
                        avps.clear();
                        *spare = avps;
                        Err(e)
                    }
                }
            }
        }
    }

    /// Octets on the wire.
    pub fn encoded_len(&self) -> usize {
        match self {
            Message::Control(c) => c.encoded_len(),
            Message::Data(d) => d.encoded_len(),
        }
    }

    /// Writes the message.
    pub fn emit(&self, out: &mut impl BufMut) {
        match self {
            Message::Control(c) => c.emit(out),
            Message::Data(d) => d.emit(out),
        }
    }

    /// The message as a new byte vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.emit(&mut v);
        v
    }

    /// The control message type (`None` for a ZLB or a data message).
    pub fn message_type(&self) -> Option<MessageType> {
        match self {
            Message::Control(c) => c.message_type(),
            Message::Data(_) => None,
        }
    }

    /// Tunnel ID of the header.
    pub fn tunnel_id(&self) -> u16 {
        match self {
            Message::Control(c) => c.header.tunnel_id,
            Message::Data(d) => d.header.tunnel_id,
        }
    }

    /// Session ID of the header.
    pub fn session_id(&self) -> u16 {
        match self {
            Message::Control(c) => c.header.session_id,
            Message::Data(d) => d.header.session_id,
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> Message<'static> {
        match self {
            Message::Control(c) => Message::Control(c.into_owned()),
            Message::Data(d) => Message::Data(d.into_owned()),
        }
    }
}

impl<'a> DataMessage<'a> {
    /// A data message with the L bit, no sequence numbers, no offset.
    pub fn new(tunnel_id: u16, session_id: u16, payload: impl Into<Cow<'a, [u8]>>) -> Self {
        DataMessage {
            header: DataHeader {
                with_length: true,
                priority: false,
                tunnel_id,
                session_id,
                sequence: None,
                offset_pad: None,
            },
            payload: payload.into(),
        }
    }

    /// Octets on the wire.
    pub fn encoded_len(&self) -> usize {
        self.header.encoded_len() + self.payload.len()
    }

    /// Writes the message.
    pub fn emit(&self, out: &mut impl BufMut) {
        self.header.emit(self.encoded_len(), out);
        out.put_slice(&self.payload);
    }

    /// An owned copy.
    pub fn into_owned(self) -> DataMessage<'static> {
        DataMessage {
            header: self.header.into_owned(),
            payload: Cow::Owned(self.payload.into_owned()),
        }
    }
}

impl<'a> ControlMessage<'a> {
    /// The AVPs after a control header; octets taken by `own` (borrowed or copied:
    /// [`AvpValue::parse_as`]).
    fn parse_body<'v, const TOLERANT: bool>(
        header: ControlHeader,
        data: &'v [u8],
        first_offset: usize,
        opts: &ParseOptions<'_>,
        own: fn(&'v [u8]) -> Cow<'a, [u8]>,
    ) -> Result<Self, WireError> {
        // Most AVPs are 8 to 10 octets: one allocation for the typical message.
        let mut avps = Vec::with_capacity((data.len() / 8).min(64));
        Self::parse_avps::<TOLERANT>(&mut avps, data, first_offset, opts, own)?;
        Ok(ControlMessage { header, avps })
    }

    /// The AVPs after a control header, appended to `avps` (empty); octets taken by `own`
    /// (borrowed or copied: [`AvpValue::parse_as`]). `TOLERANT`: an AVP whose value breaks its
    /// type's length rule is kept raw rather than an error ([`Message::parse_owned_tolerant`]);
    /// a parameter of the type so that the strict parse, the common one, carries no test of it.
    fn parse_avps<'v, const TOLERANT: bool>(
        avps: &mut Vec<Avp<'a>>,
        data: &'v [u8],
        first_offset: usize,
        opts: &ParseOptions<'_>,
        own: fn(&'v [u8]) -> Cow<'a, [u8]>,
    ) -> Result<(), WireError> {
        // Room for them at once (nothing to do when `avps` has it already).
        avps.reserve((data.len() / 8).min(64));
        let mut rv: Option<&'v [u8]> = None;
        let mut at = 0;
        while at < data.len() {
            let raw = avp::read_raw_at(data, at, first_offset)?;
            at += 6 + raw.value.len();
            let value = if raw.reserved != 0 {
                AvpValue::Raw {
                    vendor: raw.vendor,
                    attr: raw.attr,
                    reserved: raw.reserved,
                    data: own(raw.value),
                }
            } else if raw.hidden {
                match opts.secret {
                    Some(secret) => {
                        let rv = rv.ok_or(WireError::NoRandomVector {
                            offset: raw.offset,
                            avp: raw.attr,
                        })?;
                        let plain = hidden::unhide(raw.attr.0, secret, rv, raw.value).ok_or(
                            WireError::BadHiddenLength {
                                offset: raw.offset,
                                avp: raw.attr,
                            },
                        )?;
                        match AvpValue::parse(
                            raw.vendor,
                            raw.attr,
                            &plain,
                            raw.offset,
                            opts.enterprise,
                        ) {
                            // Not modelled, or a value that breaks its type's length rule
                            // (module docs): kept as its ciphertext, so that it can only ever
                            // be re-emitted hidden (RFC 2661 4.3).
                            Ok(AvpValue::Raw { .. }) => AvpValue::Raw {
                                vendor: raw.vendor,
                                attr: raw.attr,
                                reserved: 0,
                                data: own(raw.value),
                            },
                            Err(WireError::BadAvpLength { .. }) if TOLERANT => AvpValue::Raw {
                                vendor: raw.vendor,
                                attr: raw.attr,
                                reserved: 0,
                                data: own(raw.value),
                            },
                            Ok(v) => v.into_owned(),
                            Err(e) => return Err(e),
                        }
                    }
                    None => AvpValue::Hidden {
                        vendor: raw.vendor,
                        attr: raw.attr,
                        data: own(raw.value),
                    },
                }
            } else if let Some(v) =
                AvpValue::parse_common(raw.vendor, raw.attr, raw.value, opts.enterprise)
            {
                v
            } else {
                let v = match AvpValue::parse_as(
                    raw.vendor,
                    raw.attr,
                    raw.value,
                    raw.offset,
                    opts.enterprise,
                    own,
                ) {
                    Ok(v) => v,
                    // A value that breaks its type's length rule, the AVP itself well framed:
                    // kept raw, an AVP this crate cannot interpret (module docs).
                    Err(WireError::BadAvpLength { .. }) if TOLERANT => AvpValue::Raw {
                        vendor: raw.vendor,
                        attr: raw.attr,
                        reserved: 0,
                        data: own(raw.value),
                    },
                    Err(e) => return Err(e),
                };
                // The Random Vector in clear that hidden AVPs after it use (RFC 2661 4.3); one
                // that arrived hidden itself is not one, nor an empty one (kept raw).
                if raw.vendor == 0 && raw.attr == AvpType::RANDOM_VECTOR && v.is_recognised() {
                    rv = Some(raw.value);
                }
                v
            };
            if avps.is_empty() && !matches!(value, AvpValue::MessageType(_)) {
                return Err(WireError::FirstAvpNotMessageType {
                    offset: first_offset,
                });
            }
            avps.push(Avp {
                mandatory: raw.mandatory,
                hidden: raw.hidden,
                value,
            });
        }
        Ok(())
    }

    /// Checks that every AVP RFC 2661 section 6 makes mandatory for the message type is present;
    /// the first missing one is [`WireError::MissingAvp`] (its offset is that of the first AVP).
    /// A ZLB and an unknown message type pass.
    pub fn check_mandatory(&self) -> Result<(), WireError> {
        let Some(mt) = self.message_type() else {
            return Ok(());
        };
        match mt.mandatory_avps().iter().find(|&&a| !self.has(a)) {
            Some(&avp) => Err(WireError::MissingAvp {
                message: mt,
                avp,
                offset: header::CONTROL_HEADER_LEN,
            }),
            None => Ok(()),
        }
    }

    /// Is an IETF AVP of type `attr` present (typed, or still hidden)?
    pub fn has(&self, attr: AvpType) -> bool {
        self.avps.iter().any(|a| match &a.value {
            AvpValue::Raw { .. } => false,
            v => v.key() == (0, attr),
        })
    }

    /// A new control message of type `message_type` to tunnel `tunnel_id`, session `session_id`
    /// (Ns and Nr are set by the control channel). Only the Message Type AVP is present: use the
    /// typed constructors ([`ControlMessage::sccrq`] ...) to get the mandatory AVPs.
    pub fn new(message_type: MessageType, tunnel_id: u16, session_id: u16) -> Self {
        ControlMessage {
            header: ControlHeader {
                tunnel_id,
                session_id,
                ns: 0,
                nr: 0,
            },
            avps: {
                // Room for the AVPs most messages carry: one allocation, no regrowth.
                let mut avps = Vec::with_capacity(4);
                avps.push(Avp::mandatory(AvpValue::MessageType(message_type)));
                avps
            },
        }
    }

    /// A ZLB acknowledgement.
    pub fn zlb(tunnel_id: u16, ns: u16, nr: u16) -> Self {
        ControlMessage {
            header: ControlHeader {
                tunnel_id,
                session_id: 0,
                ns,
                nr,
            },
            avps: Vec::new(),
        }
    }

    /// Appends an AVP.
    pub fn push(&mut self, avp: Avp<'a>) -> &mut Self {
        self.avps.push(avp);
        self
    }

    /// Appends an AVP (builder style).
    pub fn with(mut self, avp: Avp<'a>) -> Self {
        self.avps.push(avp);
        self
    }

    /// Sets the header's tunnel and session ids (builder style).
    pub fn to(mut self, tunnel_id: u16, session_id: u16) -> Self {
        self.header.tunnel_id = tunnel_id;
        self.header.session_id = session_id;
        self
    }

    fn m(mut self, v: AvpValue<'a>) -> Self {
        self.avps.push(Avp::mandatory(v));
        self
    }

    /// SCCRQ with its mandatory AVPs (Protocol Version 1.0, Host Name, Framing Capabilities,
    /// Assigned Tunnel ID), to tunnel 0.
    pub fn sccrq(
        assigned_tunnel_id: u16,
        host_name: impl Into<Cow<'a, [u8]>>,
        framing: u32,
    ) -> Self {
        Self::new(MessageType::SCCRQ, 0, 0)
            .m(AvpValue::ProtocolVersion {
                version: 1,
                revision: 0,
            })
            .m(AvpValue::HostName(host_name.into()))
            .m(AvpValue::FramingCapabilities(framing))
            .m(AvpValue::AssignedTunnelId(assigned_tunnel_id))
    }

    /// SCCRP with its mandatory AVPs, to the peer's tunnel `tunnel_id`.
    pub fn sccrp(
        tunnel_id: u16,
        assigned_tunnel_id: u16,
        host_name: impl Into<Cow<'a, [u8]>>,
        framing: u32,
    ) -> Self {
        Self::new(MessageType::SCCRP, tunnel_id, 0)
            .m(AvpValue::ProtocolVersion {
                version: 1,
                revision: 0,
            })
            .m(AvpValue::FramingCapabilities(framing))
            .m(AvpValue::HostName(host_name.into()))
            .m(AvpValue::AssignedTunnelId(assigned_tunnel_id))
    }

    /// SCCCN.
    pub fn scccn(tunnel_id: u16) -> Self {
        Self::new(MessageType::SCCCN, tunnel_id, 0)
    }

    /// StopCCN with its mandatory Assigned Tunnel ID and Result Code.
    pub fn stopccn(tunnel_id: u16, assigned_tunnel_id: u16, result: ResultCode<'a>) -> Self {
        Self::new(MessageType::STOPCCN, tunnel_id, 0)
            .m(AvpValue::AssignedTunnelId(assigned_tunnel_id))
            .m(AvpValue::ResultCode(result))
    }

    /// HELLO.
    pub fn hello(tunnel_id: u16) -> Self {
        Self::new(MessageType::HELLO, tunnel_id, 0)
    }

    /// OCRQ with its mandatory AVPs.
    #[allow(clippy::too_many_arguments)]
    pub fn ocrq(
        tunnel_id: u16,
        assigned_session_id: u16,
        serial: u32,
        min_bps: u32,
        max_bps: u32,
        bearer_type: u32,
        framing_type: u32,
        called_number: impl Into<Cow<'a, [u8]>>,
    ) -> Self {
        Self::new(MessageType::OCRQ, tunnel_id, 0)
            .m(AvpValue::AssignedSessionId(assigned_session_id))
            .m(AvpValue::CallSerialNumber(serial))
            .m(AvpValue::MinimumBps(min_bps))
            .m(AvpValue::MaximumBps(max_bps))
            .m(AvpValue::BearerType(bearer_type))
            .m(AvpValue::FramingType(framing_type))
            .m(AvpValue::CalledNumber(called_number.into()))
    }

    /// OCRP with its mandatory Assigned Session ID.
    pub fn ocrp(tunnel_id: u16, session_id: u16, assigned_session_id: u16) -> Self {
        Self::new(MessageType::OCRP, tunnel_id, session_id)
            .m(AvpValue::AssignedSessionId(assigned_session_id))
    }

    /// OCCN with its mandatory (Tx) Connect Speed and Framing Type.
    pub fn occn(tunnel_id: u16, session_id: u16, speed: u32, framing_type: u32) -> Self {
        Self::new(MessageType::OCCN, tunnel_id, session_id)
            .m(AvpValue::TxConnectSpeed(speed))
            .m(AvpValue::FramingType(framing_type))
    }

    /// ICRQ with its mandatory Assigned Session ID and Call Serial Number.
    pub fn icrq(tunnel_id: u16, assigned_session_id: u16, serial: u32) -> Self {
        Self::new(MessageType::ICRQ, tunnel_id, 0)
            .m(AvpValue::AssignedSessionId(assigned_session_id))
            .m(AvpValue::CallSerialNumber(serial))
    }

    /// ICRP with its mandatory Assigned Session ID.
    pub fn icrp(tunnel_id: u16, session_id: u16, assigned_session_id: u16) -> Self {
        Self::new(MessageType::ICRP, tunnel_id, session_id)
            .m(AvpValue::AssignedSessionId(assigned_session_id))
    }

    /// Writes the ICRP [`ControlMessage::icrp`] builds under `header` (its tunnel and session
    /// ids, Ns and Nr), followed when `redirect` is given by the optional vendor `RedirectTarget`
    /// AVP (vendor id, address) naming where the LAC should place the call: the octets
    /// `emit` writes for that message, in one copy and without building it (the contact LNS's
    /// redirect decision). Nothing is hidden.
    pub fn emit_icrp(
        out: &mut impl BufMut,
        header: ControlHeader,
        assigned_session_id: u16,
        redirect: Option<(u16, std::net::IpAddr)>,
    ) {
        // Header (12), Message Type (8), Assigned Session ID (8), RedirectTarget (6 + 4 or 16).
        let mut b = [0u8; 12 + 8 + 8 + 6 + 16];
        let mut len = 28;
        if let Some((vendor, addr)) = redirect {
            let value: &[u8] = match &addr {
                std::net::IpAddr::V4(a) => &a.octets(),
                std::net::IpAddr::V6(a) => &a.octets(),
            };
            let avp_len = 6 + value.len();
            b[28..30].copy_from_slice(&(avp_len as u16).to_be_bytes());
            b[30..32].copy_from_slice(&vendor.to_be_bytes());
            b[32..34].copy_from_slice(&avp::AvpType::VENDOR_REDIRECT_TARGET.0.to_be_bytes());
            b[34..34 + value.len()].copy_from_slice(value);
            len += avp_len;
        }
        b[0..2].copy_from_slice(
            &(header::FLAG_TYPE | header::FLAG_LENGTH | header::FLAG_SEQUENCE | header::VERSION_2)
                .to_be_bytes(),
        );
        b[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        b[4..6].copy_from_slice(&header.tunnel_id.to_be_bytes());
        b[6..8].copy_from_slice(&header.session_id.to_be_bytes());
        b[8..10].copy_from_slice(&header.ns.to_be_bytes());
        b[10..12].copy_from_slice(&header.nr.to_be_bytes());
        // Mandatory, 8 octets, IETF, type 0 (Message Type) = ICRP; type 14 = the session id.
        b[12..14].copy_from_slice(&0x8008u16.to_be_bytes());
        b[16..18].copy_from_slice(&AvpType::MESSAGE_TYPE.0.to_be_bytes());
        b[18..20].copy_from_slice(&MessageType::ICRP.0.to_be_bytes());
        b[20..22].copy_from_slice(&0x8008u16.to_be_bytes());
        b[24..26].copy_from_slice(&AvpType::ASSIGNED_SESSION_ID.0.to_be_bytes());
        b[26..28].copy_from_slice(&assigned_session_id.to_be_bytes());
        out.put_slice(&b[..len]);
    }

    /// ICCN with its mandatory (Tx) Connect Speed and Framing Type.
    pub fn iccn(tunnel_id: u16, session_id: u16, speed: u32, framing_type: u32) -> Self {
        Self::new(MessageType::ICCN, tunnel_id, session_id)
            .m(AvpValue::TxConnectSpeed(speed))
            .m(AvpValue::FramingType(framing_type))
    }

    /// CDN with its mandatory Result Code and Assigned Session ID.
    pub fn cdn(
        tunnel_id: u16,
        session_id: u16,
        assigned_session_id: u16,
        result: ResultCode<'a>,
    ) -> Self {
        Self::new(MessageType::CDN, tunnel_id, session_id)
            .m(AvpValue::ResultCode(result))
            .m(AvpValue::AssignedSessionId(assigned_session_id))
    }

    /// FSQ (RFC 4951) asking about `sessions`: one Failover Session State each (our Session ID,
    /// the peer's Session ID as we know it). At least one is required.
    pub fn fsq(tunnel_id: u16, sessions: &[FailoverSessionState]) -> Self {
        Self::failover_sessions(MessageType::FSQ, tunnel_id, sessions)
    }

    /// FSR (RFC 4951) answering an FSQ: one Failover Session State per queried session (our
    /// Session ID, 0 when we have no such session; the querier's Session ID).
    pub fn fsr(tunnel_id: u16, sessions: &[FailoverSessionState]) -> Self {
        Self::failover_sessions(MessageType::FSR, tunnel_id, sessions)
    }

    /// RFC 4951 4.1, 4.2: "The M-bit on the Message Type AVP for this control message MUST be
    /// set to 0" (a peer without RFC 4951 ignores it); each Failover Session State has M=1 (5.4).
    fn failover_sessions(mt: MessageType, tunnel_id: u16, s: &[FailoverSessionState]) -> Self {
        let mut m = Self::new(mt, tunnel_id, 0);
        m.avps[0].mandatory = false;
        m.avps.extend(
            s.iter()
                .map(|f| Avp::mandatory(AvpValue::FailoverSessionState(*f))),
        );
        m
    }

    /// WEN with its mandatory Call Errors.
    pub fn wen(tunnel_id: u16, session_id: u16, errors: CallErrors) -> Self {
        Self::new(MessageType::WEN, tunnel_id, session_id).m(AvpValue::CallErrors(errors))
    }

    /// SLI with its mandatory ACCM.
    pub fn sli(tunnel_id: u16, session_id: u16, send: u32, receive: u32) -> Self {
        Self::new(MessageType::SLI, tunnel_id, session_id).m(AvpValue::Accm { send, receive })
    }

    /// The message type, `None` for a ZLB.
    pub fn message_type(&self) -> Option<MessageType> {
        match self.avps.first().map(|a| &a.value) {
            Some(AvpValue::MessageType(t)) => Some(*t),
            _ => None,
        }
    }

    /// Is this a ZLB acknowledgement (no AVPs)?
    pub fn is_zlb(&self) -> bool {
        self.avps.is_empty()
    }

    /// Hides every AVP marked `hidden` whose value is typed, with `secret` and the most recent
    /// Random Vector before it (RFC 2661 4.3). No padding is added (see
    /// [`ControlMessage::hide_padded`]).
    pub fn hide(&mut self, secret: &[u8]) -> Result<(), WireError> {
        self.hide_with(secret, 0, &mut |_| {})
    }

    /// [`ControlMessage::hide`], padding each hidden subformat (2-octet original length, value,
    /// padding) with random octets from `rng` up to the next multiple of `block` octets (RFC 2661
    /// 4.3 allows padding after the value to conceal its length; the original length says where
    /// the value ends). `block` 0 or 1: no padding. The padding never takes an AVP beyond
    /// [`avp::MAX_VALUE_LEN`].
    pub fn hide_padded(
        &mut self,
        secret: &[u8],
        block: usize,
        rng: &mut crate::io::Rng,
    ) -> Result<(), WireError> {
        self.hide_with(secret, block, &mut |pad| rng.fill_bytes(pad))
    }

    fn hide_with(
        &mut self,
        secret: &[u8],
        block: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), WireError> {
        let mut rv: Option<Vec<u8>> = None;
        for a in self.avps.iter_mut() {
            match &a.value {
                AvpValue::RandomVector(v) => rv = Some(v.to_vec()),
                AvpValue::Hidden { .. } | AvpValue::Raw { .. } => {}
                v if a.hidden => {
                    let (vendor, attr) = v.key();
                    let rv = rv.as_deref().ok_or(WireError::NoRandomVector {
                        offset: 0,
                        avp: attr,
                    })?;
                    let mut plain = Vec::with_capacity(v.value_len());
                    v.emit_value(&mut plain);
                    let sub = 2 + plain.len();
                    let padded = if block > 1 {
                        sub.div_ceil(block).saturating_mul(block)
                    } else {
                        sub
                    };
                    let mut pad = vec![0u8; padded.min(avp::MAX_VALUE_LEN).saturating_sub(sub)];
                    fill(&mut pad);
                    let data = hidden::hide(attr.0, secret, rv, &plain, &pad);
                    a.value = AvpValue::Hidden {
                        vendor,
                        attr,
                        data: Cow::Owned(data),
                    };
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Unhides every [`AvpValue::Hidden`] AVP with `secret` (the reverse of
    /// [`ControlMessage::hide`]); the AVPs keep `hidden: true`. An AVP of a type this crate does
    /// not model stays as its ciphertext ([`AvpValue::Raw`] with `hidden: true`).
    pub fn unhide(&mut self, secret: &[u8], enterprise: u16) -> Result<(), WireError> {
        let mut rv: Option<Vec<u8>> = None;
        for a in self.avps.iter_mut() {
            match &a.value {
                AvpValue::RandomVector(v) => rv = Some(v.to_vec()),
                AvpValue::Hidden { vendor, attr, data } => {
                    let rv = rv.as_deref().ok_or(WireError::NoRandomVector {
                        offset: 0,
                        avp: *attr,
                    })?;
                    let plain = hidden::unhide(attr.0, secret, rv, data).ok_or(
                        WireError::BadHiddenLength {
                            offset: 0,
                            avp: *attr,
                        },
                    )?;
                    let typed = AvpValue::parse(*vendor, *attr, &plain, 0, enterprise)?;
                    if !matches!(typed, AvpValue::Raw { .. }) {
                        a.value = typed.into_owned();
                    } else {
                        // Not modelled: kept as its ciphertext (RFC 2661 4.3).
                        a.value = AvpValue::Raw {
                            vendor: *vendor,
                            attr: *attr,
                            reserved: 0,
                            data: Cow::Owned(data.to_vec()),
                        };
                    }
                    a.hidden = true;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Checks that every value fits its 10-bit AVP length and the message its 16-bit length, and
    /// that no AVP marked hidden is still in clear ([`WireError::NotHidden`]).
    pub fn check_encodable(&self) -> Result<(), WireError> {
        if let Some(a) = self.avps.iter().find(|a| a.withheld()) {
            return Err(WireError::NotHidden { avp: a.key().1 });
        }
        if self
            .avps
            .iter()
            .any(|a| a.value.value_len() > avp::MAX_VALUE_LEN)
        {
            return Err(WireError::TooLong {
                field: Field::AvpValue,
            });
        }
        if self.encoded_len() > usize::from(u16::MAX) {
            return Err(WireError::TooLong {
                field: Field::Message,
            });
        }
        Ok(())
    }

    /// Octets on the wire.
    pub fn encoded_len(&self) -> usize {
        header::CONTROL_HEADER_LEN + self.avps.iter().map(Avp::encoded_len).sum::<usize>()
    }

    /// Writes the message (see [`ControlMessage::check_encodable`] for the size limits).
    pub fn emit(&self, out: &mut impl BufMut) {
        self.header.emit(self.encoded_len(), out);
        for a in &self.avps {
            a.emit(out);
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> ControlMessage<'static> {
        ControlMessage {
            header: self.header,
            avps: self.avps.into_iter().map(Avp::into_owned).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    proptest! {
        /// [`ControlMessage::emit_icrp`] writes the octets [`ControlMessage::icrp`] (with the
        /// vendor RedirectTarget AVP when one is named) emits under the same header, after
        /// whatever the buffer held; they parse back to an ICRP (RFC 2661 6.7: Message Type
        /// first, the Assigned Session ID mandatory) naming the same session and target.
        #[test]
        fn emit_icrp_writes_the_built_icrp(
            ids in any::<[u16; 5]>(),
            vendor in 1u16..,
            v4 in any::<[u8; 4]>(),
            v6 in any::<[u8; 16]>(),
            kind in 0u8..3,
            before in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let [tunnel_id, session_id, ns, nr, sid] = ids;
            let header = ControlHeader { tunnel_id, session_id, ns, nr };
            let redirect = match kind {
                0 => None,
                1 => Some((vendor, IpAddr::V4(Ipv4Addr::from(v4)))),
                _ => Some((vendor, IpAddr::V6(Ipv6Addr::from(v6)))),
            };
            let mut built = ControlMessage::icrp(tunnel_id, session_id, sid);
            if let Some((vendor, addr)) = redirect {
                built.push(Avp::optional(AvpValue::RedirectTarget { vendor, addr }));
            }
            built.header.ns = ns;
            built.header.nr = nr;
            let mut want = before.clone();
            built.emit(&mut want);
            let mut got = before.clone();
            ControlMessage::emit_icrp(&mut got, header, sid, redirect);
            prop_assert_eq!(&got, &want);
            let opts = ParseOptions { enterprise: vendor, secret: None };
            let Ok(Message::Control(m)) = Message::parse_with(&got[before.len()..], &opts) else {
                return Err(TestCaseError::fail("not a control message"));
            };
            prop_assert_eq!(m.header, header);
            prop_assert_eq!(m.message_type(), Some(MessageType::ICRP));
            prop_assert!(m.avps[0].mandatory && m.avps[1].mandatory);
            prop_assert_eq!(m.assigned_session_id(), Some(sid));
            prop_assert_eq!(m.redirect_target(vendor), redirect.map(|r| r.1));
            prop_assert_eq!(m.avps.len(), 2 + usize::from(redirect.is_some()));
        }

        /// [`Message::parse_owned_reusing`] gives what [`Message::parse_owned_with`] gives, the
        /// same message or the same error (RFC 2661 4.1, 4.3, 4.4: Message Type first, AVP
        /// lengths, hidden AVPs unhidden with the secret after a Random Vector, unknown ones
        /// kept), whatever the buffer it reuses held before: ICRQs and CDNs (hidden Assigned
        /// Session ID or not, a vendor LoadBalanceCapable or an unknown mandatory AVP), cut short
        /// or with octets changed, and arbitrary octets. A failed parse gives the buffer back with
        /// its room, a ZLB or a data message leaves it as it was.
        #[test]
        fn parse_reusing_a_buffer_is_parse_owned(
            ids in any::<[u16; 5]>(),
            kind in 0u8..4,
            hide in any::<bool>(),
            with_secret in any::<bool>(),
            cut in any::<Option<prop::sample::Index>>(),
            changes in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
            noise in proptest::collection::vec(any::<u8>(), 0..48),
            before in 0usize..3,
        ) {
            let [tunnel_id, session_id, ns, peer_sid, serial] = ids;
            let secret = b"shared secret";
            let mut m = match kind {
                0 => ControlMessage::icrq(tunnel_id, peer_sid, u32::from(serial)),
                1 => ControlMessage::icrq(tunnel_id, peer_sid, u32::from(serial)).with(
                    Avp::optional(AvpValue::LoadBalanceCapable { vendor: DEFAULT_ENTERPRISE }),
                ),
                2 => ControlMessage::cdn(
                    tunnel_id,
                    session_id,
                    peer_sid,
                    ResultCode::new(avp::ResultCodeValue(3)),
                ),
                _ => ControlMessage::icrq(tunnel_id, peer_sid, u32::from(serial)).with(Avp {
                    mandatory: true,
                    hidden: false,
                    value: AvpValue::Raw {
                        vendor: 9,
                        attr: AvpType(77),
                        reserved: 0,
                        data: Cow::Owned(noise.clone()),
                    },
                }),
            };
            m.header.ns = ns;
            if hide {
                m.avps.insert(
                    1,
                    Avp::mandatory(AvpValue::RandomVector(Cow::Owned(noise.clone()))),
                );
                if let Some(a) = m.avps.iter_mut().find(|a| {
                    matches!(a.value, AvpValue::AssignedSessionId(_))
                }) {
                    a.hidden = true;
                }
                prop_assert!(m.hide(secret).is_ok());
            }
            let mut wire = Message::Control(m).to_vec();
            if let Some(cut) = cut {
                wire.truncate(cut.index(wire.len() + 1));
            }
            for (at, byte) in &changes {
                if !wire.is_empty() {
                    let i = at.index(wire.len());
                    wire[i] = *byte;
                }
            }
            let opts = ParseOptions {
                enterprise: DEFAULT_ENTERPRISE,
                secret: with_secret.then_some(&secret[..]),
            };
            for input in [&wire, &noise] {
                // The buffer holds what earlier parses left: nothing, an ICRQ's AVPs, a CDN's.
                let mut spare = match before {
                    0 => Vec::new(),
                    1 => ControlMessage::icrq(1, 2, 3).avps,
                    _ => ControlMessage::cdn(1, 2, 3, ResultCode::new(avp::ResultCodeValue(1)))
                        .avps,
                };
                let room = spare.capacity();
                let reused = Message::parse_owned_reusing(input, &opts, &mut spare);
                let owned = Message::parse_owned_with(input, &opts);
                prop_assert_eq!(&reused, &owned);
                match &reused {
                    Err(_) => prop_assert!(spare.capacity() >= room),
                    Ok(Message::Control(c)) if !c.is_zlb() => {}
                    Ok(_) => prop_assert_eq!(spare.capacity(), room),
                }
            }
        }
    }
}
