//! The L2TPv2 wire codec: header, AVPs (RFC 2661 section 4.4 and the load-redirection vendor AVPs),
//! hidden AVPs and messages.
//!
//! * [`header`]: the common header of control and data messages (T, L, S, O, P bits, version,
//!   length, tunnel and session ids, Ns/Nr, offset). Version 3 (L2TPv3 over UDP) is recognised and
//!   refused with [`WireError::UnsupportedVersion`].
//! * [`avp`]: every AVP of RFC 2661 (types 0..=39) as a typed [`avp::AvpValue`], unknown AVPs kept
//!   raw, and the two load-redirection vendor AVPs (see [`avp`] for their format).
//! * [`hidden`]: the AVP hiding of RFC 2661 section 4.3 and the tunnel-authentication
//!   [`hidden::challenge_response`].
//! * [`message`]: [`Message`] (control or data), its parser, emitter and builders.
//!
//! Parsing borrows from the input: opaque values are `Cow::Borrowed` slices of the datagram, nothing
//! is copied. Once a parse succeeds, no accessor can panic.
//!
//! ```
//! use telcp::l2tp::wire::{Message, ControlMessage, MessageType};
//! let mut sccrq = ControlMessage::sccrq(7, b"lac".as_slice(), 3);
//! sccrq.header.ns = 0;
//! let msg = Message::Control(sccrq);
//! let mut buf = Vec::new();
//! msg.emit(&mut buf);
//! assert_eq!(buf.len(), msg.encoded_len());
//! let parsed = Message::parse(&buf).unwrap();
//! assert_eq!(parsed, msg);
//! assert_eq!(parsed.message_type(), Some(MessageType::SCCRQ));
//! ```

pub mod avp;
pub mod header;
pub mod hidden;
pub mod message;

pub use avp::{Avp, AvpType, AvpValue, DEFAULT_ENTERPRISE, ErrorCode, ResultCode, ResultCodeValue};
pub use header::{ControlHeader, DataHeader};
pub use hidden::challenge_response;
pub use message::{ControlMessage, DataMessage, Message, MessageType, ParseOptions};

/// Why a datagram could not be parsed (or a message could not be hidden/unhidden).
///
/// Every variant carries the byte offset in the datagram where the problem was found and, where it
/// helps, the name of the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended before a field was complete.
    #[error("truncated at byte {offset}: {field} incomplete")]
    Truncated {
        /// Byte offset of the incomplete field.
        offset: usize,
        /// The field being read.
        field: Field,
    },
    /// A version other than 2 (3 is L2TPv3 over UDP, 1 is L2F).
    #[error("unsupported L2TP version {version} at byte {offset} (only L2TPv2 is supported)")]
    UnsupportedVersion {
        /// Byte offset of the version field.
        offset: usize,
        /// The version found.
        version: u8,
    },
    /// A header bit that the message kind forbids or requires (control messages need T=L=S=1,
    /// O=P=0).
    #[error("bad header at byte {offset}: {field}")]
    BadHeader {
        /// Byte offset of the flags.
        offset: usize,
        /// What is wrong.
        field: HeaderRule,
    },
    /// A length field disagrees with the data.
    #[error("bad length at byte {offset}: {field} says {declared}, {actual} available")]
    BadLength {
        /// Byte offset of the length field.
        offset: usize,
        /// The length field.
        field: Field,
        /// The value of the field.
        declared: usize,
        /// What the data allows.
        actual: usize,
    },
    /// An AVP value whose length breaks the AVP's length rule.
    #[error("AVP {avp} at byte {offset} has a value of {len} octets: {rule}")]
    BadAvpLength {
        /// Byte offset of the AVP.
        offset: usize,
        /// The AVP type.
        avp: AvpType,
        /// The value length found.
        len: usize,
        /// The rule it breaks.
        rule: LengthRule,
    },
    /// A value that is not valid for its field.
    #[error("invalid {field} at byte {offset}")]
    Invalid {
        /// Byte offset.
        offset: usize,
        /// The field.
        field: Field,
    },
    /// The first AVP of a control message is not a Message Type AVP.
    #[error("first AVP at byte {offset} is not Message Type")]
    FirstAvpNotMessageType {
        /// Byte offset of the first AVP.
        offset: usize,
    },
    /// A message lacks an AVP that RFC 2661 section 6 makes mandatory for it.
    #[error("{message} lacks mandatory AVP {avp}")]
    MissingAvp {
        /// The message type.
        message: MessageType,
        /// The missing AVP.
        avp: AvpType,
        /// Byte offset of the message's first AVP.
        offset: usize,
    },
    /// A hidden AVP without a Random Vector AVP before it in the message.
    #[error("hidden AVP {avp} at byte {offset} has no preceding Random Vector")]
    NoRandomVector {
        /// Byte offset of the hidden AVP (0 when hiding).
        offset: usize,
        /// The AVP.
        avp: AvpType,
    },
    /// A hidden AVP whose decrypted original length does not fit.
    #[error("hidden AVP {avp} at byte {offset}: bad original length (wrong secret?)")]
    BadHiddenLength {
        /// Byte offset of the hidden AVP.
        offset: usize,
        /// The AVP.
        avp: AvpType,
    },
    /// An AVP marked hidden whose value is still in clear: it must be hidden
    /// ([`ControlMessage::hide`]) before the message is emitted (RFC 2661 4.3); until then
    /// [`Avp::emit`] withholds its value.
    #[error("AVP {avp} is marked hidden but not hidden")]
    NotHidden {
        /// The AVP.
        avp: AvpType,
    },
    /// A value too long for a 10-bit AVP length or 16-bit message length when emitting.
    #[error("{field} too long to encode")]
    TooLong {
        /// The field.
        field: Field,
    },
}

crate::io::reader::wire_fields! {
    /// A field of an L2TPv2 header or AVP (RFC 2661 sections 3.1, 4.1 and 4.4), named in its
    /// [`WireError`]s.
    pub enum Field for WireError {} {
        Flags => "flags",
        Length => "length",
        TunnelId => "tunnel id",
        SessionId => "session id",
        Ns => "ns",
        Nr => "nr",
        OffsetSize => "offset size",
        OffsetPad => "offset pad",
        AvpValue => "avp value",
        Message => "message",
        Version => "version",
        Revision => "revision",
        CauseMessage => "cause message",
        ResultCode => "result code",
        ErrorCode => "error code",
        CauseCode => "cause code",
        Reserved => "reserved",
        AvpFlagsAndLength => "avp flags and length",
        VendorId => "vendor id",
        AttributeType => "attribute type",
        TieBreaker => "tie breaker",
        CrcErrors => "crc errors",
        FramingErrors => "framing errors",
        HardwareOverruns => "hardware overruns",
        BufferOverruns => "buffer overruns",
        TimeOutErrors => "time-out errors",
        AlignmentErrors => "alignment errors",
        SendAccm => "send accm",
        ReceiveAccm => "receive accm",
        AttributeValue => "attribute value",
        AvpLength => "avp length",
        FirmwareRevision => "firmware revision",
        AssignedTunnelId => "assigned tunnel id",
        ReceiveWindowSize => "receive window size",
        AssignedSessionId => "assigned session id",
        ProxyAuthenType => "proxy authen type",
        ProxyAuthenId => "proxy authen id",
        FramingCapabilities => "framing capabilities",
        BearerCapabilities => "bearer capabilities",
        CallSerialNumber => "call serial number",
        MinimumBps => "minimum bps",
        MaximumBps => "maximum bps",
        BearerType => "bearer type",
        FramingType => "framing type",
        ConnectSpeed => "connect speed",
        PhysicalChannelId => "physical channel id",
        RxConnectSpeed => "rx connect speed",
        MessageType => "message type",
        DisconnectCode => "disconnect code",
        ControlProtocolNumber => "control protocol number",
        Direction => "direction",
    }
}

/// A header bit that a control message forbids or requires (RFC 2661 3.1: T=L=S=1, O=P=0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderRule {
    /// L (length present) is 0.
    ControlWithoutLength,
    /// S (sequence present) is 0.
    ControlWithoutSequence,
    /// O (offset present) is 1.
    ControlWithOffset,
    /// P (priority) is 1.
    ControlWithPriority,
}

impl std::fmt::Display for HeaderRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeaderRule::ControlWithoutLength => "control message without L bit",
            HeaderRule::ControlWithoutSequence => "control message without S bit",
            HeaderRule::ControlWithOffset => "control message with O bit",
            HeaderRule::ControlWithPriority => "control message with P bit",
        })
    }
}

/// The length rule of an AVP value (RFC 2661 4.4; 4.1 for the vendor AVPs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LengthRule {
    /// Exactly this many octets (0: no value).
    Exactly(u16),
    /// At least this many octets.
    AtLeast(u16),
    /// 2 octets (a result code alone), or 4 and more (with an error code and message).
    TwoOrAtLeastFour,
    /// 4 (IPv4) or 16 (IPv6) octets.
    FourOrSixteen,
}

impl std::fmt::Display for LengthRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LengthRule::Exactly(0) => f.write_str("no value"),
            LengthRule::Exactly(n) => write!(f, "{n} octets"),
            LengthRule::AtLeast(1) => f.write_str("at least 1 octet"),
            LengthRule::AtLeast(n) => write!(f, "at least {n} octets"),
            LengthRule::TwoOrAtLeastFour => f.write_str("2 octets, or 4 and more"),
            LengthRule::FourOrSixteen => f.write_str("4 (IPv4) or 16 (IPv6) octets"),
        }
    }
}
