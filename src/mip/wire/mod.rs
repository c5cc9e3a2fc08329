//! The Mobile IPv4 registration codec (RFC 5944): Registration Request and Reply with extensions,
//! their authenticators (HMAC-MD5, optional RFC 2002 keyed MD5) and replay protection.
//!
//! * [`Message::parse`] reads one UDP payload (port [`PORT`]) into a borrowed [`Message`] without
//!   copying opaque values; [`Message::emit`] writes it back byte for byte
//!   (`emit(parse(b)) == b` for every well-formed `b`).
//! * [`Extension`] models every extension the Home Agent meets; unknown types survive as
//!   [`Extension::Other`]. Types below 128 that this codec does not model make a request refusable
//!   ([`Message::unknown_non_skippable`], the HA answers [`ReplyCode::POORLY_FORMED_REQUEST`]);
//!   types from 128 up are kept and skipped.
//! * [`Builder`] appends authentication extensions whose authenticators are computed at emit time
//!   over exactly the bytes RFC 5944 section 3.5.1 protects.
//! * [`auth`] holds the algorithms and the security-association table, [`replay`] the NTP
//!   timestamp and nonce rules.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use telcp::mip::wire::{auth::{AuthAlgorithm, SecurityAssociation}, Builder, ExtensionType, Message, Request};
//!
//! let sa = SecurityAssociation::new(0x1000, AuthAlgorithm::HmacMd5, b"mn-ha secret key".to_vec());
//! let rrq = Request {
//!     lifetime: 600,
//!     home_address: Ipv4Addr::new(10, 0, 0, 5),
//!     home_agent: Ipv4Addr::new(192, 0, 2, 1),
//!     care_of: Ipv4Addr::new(198, 51, 100, 7),
//!     identification: 0x0123_4567_89ab_cdef,
//!     ..Request::default()
//! };
//! let bytes = Builder::request(rrq).nai(b"mn@example.net").mn_ha_auth(&sa).to_vec();
//! let msg = Message::parse(&bytes).unwrap();
//! assert_eq!(msg.nai(), Some(&b"mn@example.net"[..]));
//! let index = msg.position(ExtensionType::MN_HA_AUTH).unwrap();
//! assert!(msg.verify(&bytes, index, &sa).is_ok());
//! let mut again = Vec::new();
//! msg.emit(&mut again);
//! assert_eq!(again, bytes);
//! ```

pub mod auth;
mod builder;
mod ext;
pub mod replay;
mod revocation;
mod summary;

pub use builder::{Builder, append_auth, append_auth_prepared};
pub use ext::{
    CVSE_3GPP2_GRE_KEY, DYNAMIC_HA_REDIRECTED, DYNAMIC_HA_REQUESTED, Extension, ExtensionType,
    GEN_AUTH_MN_AAA, GRE_KEY_SUBTYPE, REVOCATION_I_BIT, UDP_TUNNEL_DECLINED, UDP_TUNNEL_F,
    UDP_TUNNEL_R, UDP_TUNNEL_REPLY_F, UDP_TUNNEL_WILL_TUNNEL, VENDOR_3GPP2,
};
pub use revocation::{
    REVOCATION_ACK_FIXED_LEN, REVOCATION_FIXED_LEN, Revocation, RevocationAck, RevocationFlags,
};
pub use summary::{AuthRef, Summary, TunnelAsk, UdpTunnelAsk};

use auth::{AuthAlgorithm, AuthError, PreparedKey, SecurityAssociation};
use bytes::BufMut;
use std::borrow::Cow;
use std::fmt;
use std::net::Ipv4Addr;

/// The UDP port of Mobile IP registration (RFC 5944).
pub const PORT: u16 = 434;

/// Length of the fixed part of a Registration Request.
pub const REQUEST_FIXED_LEN: usize = 24;
/// Length of the fixed part of a Registration Reply.
pub const REPLY_FIXED_LEN: usize = 20;

/// A parse failure, with the byte offset and the field where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended inside a field.
    #[error("truncated {field} at byte {offset}: {needed} more bytes needed")]
    Truncated {
        /// Offset of the field.
        offset: usize,
        /// Name of the field.
        field: Field,
        /// Bytes missing.
        needed: usize,
    },
    /// The message type is neither a Registration Request (1) nor a Reply (3).
    #[error("unsupported message type {value} at byte {offset}")]
    UnsupportedMessage {
        /// Offset of the type octet (0).
        offset: usize,
        /// The type found.
        value: u8,
    },
    /// A length field does not fit the extension it announces.
    #[error("bad {field} {declared} at byte {offset}")]
    BadLength {
        /// Offset of the length field.
        offset: usize,
        /// Name of the length field.
        field: Field,
        /// The length the field announces.
        declared: usize,
    },
}

pub(crate) use crate::io::Reader;

crate::io::reader::wire_fields! {
    /// A field of a registration message or extension (RFC 5944 3.3, 3.4, 3.5; RFC 3543, 4433,
    /// 4917 extensions), named in its [`WireError`]s.
    pub enum Field for WireError { needed } {
        Type => "type",
        Flags => "flags",
        Code => "code",
        Lifetime => "lifetime",
        Identification => "identification",
        HomeAddress => "home address",
        HomeAgent => "home agent",
        CareOfAddress => "care-of address",
        FixedPart => "fixed part",
        ExtensionType => "extension type",
        ExtensionLength => "extension length",
        DynamicHaSubtype => "dynamic HA subtype",
        UdpTunnelRequestSubtype => "UDP tunnel request subtype",
        UdpTunnelRequestReserved => "UDP tunnel request reserved",
        UdpTunnelRequestFlags => "UDP tunnel request flags",
        UdpTunnelRequestEncapsulation => "UDP tunnel request encapsulation",
        UdpTunnelReplySubtype => "UDP tunnel reply subtype",
        UdpTunnelReplyCode => "UDP tunnel reply code",
        CvseVendorType => "CVSE vendor type",
        RevocationFlags => "revocation flags",
        NvseReserved => "NVSE reserved",
        NvseVendorType => "NVSE vendor type",
        UdpTunnelReplyFlags => "UDP tunnel reply flags",
        UdpTunnelReplyKeepalive => "UDP tunnel reply keepalive",
        Spi => "SPI",
        CvseVendorId => "CVSE vendor id",
        RevocationTimestamp => "revocation timestamp",
        NvseVendorId => "NVSE vendor id",
        DynamicHaAddress => "dynamic HA address",
        ExtensionData => "extension data",
        Authenticator => "authenticator",
        CvseValue => "CVSE value",
        NvseValue => "NVSE value",
        GeneralizedAuthLength => "generalized auth length",
        CvseLength => "CVSE length",
        AuthenticationExtensionLength => "authentication extension length",
        RevocationSupportLength => "revocation support length",
        DynamicHaLength => "dynamic HA length",
        NvseLength => "NVSE length",
        UdpTunnelRequestLength => "UDP tunnel request length",
        UdpTunnelReplyLength => "UDP tunnel reply length",
        GreKeyLength => "GRE key length",
        GreKeyReserved => "GRE key reserved",
        GreKey => "GRE key",
        CvseReserved => "CVSE reserved",
        ExtensionSubtype => "extension subtype",
        Nai => "NAI",
        Data => "data",
        ClusterMessage => "cluster message",
        ClusterMagic => "cluster magic",
        ClusterVersion => "cluster version",
        ClusterKind => "cluster message kind",
        ClusterReserved => "cluster reserved",
        Sender => "sender",
        Incarnation => "incarnation",
        PacketNumber => "packet number",
        ForwardedRequest => "forwarded request",
        RelayedReply => "relayed reply",
        BatchSequence => "replication sequence number",
        ItemCount => "item count",
        ItemKind => "item kind",
        RecordState => "record state",
        FirstHa => "first HA",
        SecondHa => "second HA",
        CareOfCount => "care-of count",
        CareOfRemaining => "care-of remaining lifetime",
        TunnelLength => "tunnel length",
        Tunnel => "tunnel",
        FailedHa => "failed HA",
        Owner => "owner",
        Coordinator => "coordinator",
        Epoch => "epoch",
        SocketAddress => "socket address",
        SocketPort => "socket port",
        NaiLength => "NAI length",
        RevocationReserved => "revocation reserved",
        HomeDomainAddress => "home domain address",
        ForeignDomainAddress => "foreign domain address",
        RevocationIdentifier => "revocation identifier",
        RecordKeyFlag => "record key flag",
        KeyNonce => "key nonce",
        KeyLength => "key length",
        KeyCiphertext => "key ciphertext",
        KeyTag => "key tag",
    }
}

/// A Mobile IP message type (first octet of the UDP payload). Open: unknown values are kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct MessageType(pub u8);

impl MessageType {
    /// Registration Request.
    pub const REGISTRATION_REQUEST: MessageType = MessageType(1);
    /// Registration Reply.
    pub const REGISTRATION_REPLY: MessageType = MessageType(3);
    /// Registration Revocation (RFC 3543 section 3.3; IANA Mobile IPv4 message type 7).
    pub const REGISTRATION_REVOCATION: MessageType = MessageType(7);
    /// Registration Revocation Acknowledgement (RFC 3543 section 3.4; message type 15).
    pub const REGISTRATION_REVOCATION_ACK: MessageType = MessageType(15);
}

/// The flag octet of a Registration Request (`S B D M G r T x`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct RequestFlags(pub u8);

impl RequestFlags {
    /// S: simultaneous bindings requested.
    pub const S: u8 = 0x80;
    /// B: broadcast datagrams.
    pub const B: u8 = 0x40;
    /// D: decapsulation by the mobile node (co-located care-of address).
    pub const D: u8 = 0x20;
    /// M: minimal encapsulation.
    pub const M: u8 = 0x10;
    /// G: GRE encapsulation.
    pub const G: u8 = 0x08;
    /// r: reserved, sent as zero.
    pub const R_RESERVED: u8 = 0x04;
    /// T: reverse tunnelling requested.
    pub const T: u8 = 0x02;
    /// x: reserved, sent as zero.
    pub const X_RESERVED: u8 = 0x01;

    /// Whether every bit of `mask` is set.
    pub const fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
    /// Whether the S (simultaneous bindings) bit is set.
    pub const fn simultaneous(self) -> bool {
        self.has(Self::S)
    }
}

/// Lifetime 0: deregistration.
pub const LIFETIME_DEREGISTER: u16 = 0;
/// Lifetime 0xffff: infinite.
pub const LIFETIME_INFINITE: u16 = 0xffff;

/// The fixed part of a Registration Request (type 1, 24 octets).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Request {
    /// The `S B D M G r T x` flags.
    pub flags: RequestFlags,
    /// Seconds requested; [`LIFETIME_DEREGISTER`] or [`LIFETIME_INFINITE`] are special.
    pub lifetime: u16,
    /// The mobile node's home address; 0.0.0.0 with an NAI asks the HA to assign one (RFC 2794).
    pub home_address: Ipv4Addr,
    /// The home agent's address (the virtual HA address in a cluster).
    pub home_agent: Ipv4Addr,
    /// The care-of address (tunnel end).
    pub care_of: Ipv4Addr,
    /// 64-bit identification: NTP timestamp or nonce pair (see [`replay`]).
    pub identification: u64,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            flags: RequestFlags::default(),
            lifetime: 0,
            home_address: Ipv4Addr::UNSPECIFIED,
            home_agent: Ipv4Addr::UNSPECIFIED,
            care_of: Ipv4Addr::UNSPECIFIED,
            identification: 0,
        }
    }
}

/// The fixed part of a Registration Reply (type 3, 20 octets).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Reply {
    /// The result.
    pub code: ReplyCode,
    /// Seconds granted (0 on deregistration or denial).
    pub lifetime: u16,
    /// The mobile node's home address (the assigned one when the request asked for one).
    pub home_address: Ipv4Addr,
    /// The home agent's address.
    pub home_agent: Ipv4Addr,
    /// Identification matching the request (see [`replay`]).
    pub identification: u64,
}

impl Default for Reply {
    fn default() -> Self {
        Reply {
            code: ReplyCode::ACCEPTED,
            lifetime: 0,
            home_address: Ipv4Addr::UNSPECIFIED,
            home_agent: Ipv4Addr::UNSPECIFIED,
            identification: 0,
        }
    }
}

/// The fixed part of a registration message.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Header {
    /// Registration Request.
    Request(Request),
    /// Registration Reply.
    Reply(Reply),
}

impl Header {
    /// Parses only the fixed part; returns it and the offset where the extensions start. Useful to
    /// answer a request whose extensions are malformed.
    pub fn parse(data: &[u8]) -> Result<(Header, usize), WireError> {
        // The common case read straight from the octets (fixed offsets, RFC 5944 sections 3.3,
        // 3.4); a short or unknown header goes the field-by-field way below, which names the
        // field that is missing.
        // Big-endian words at constant offsets inside the fixed part.
        fn u16_at<const L: usize>(b: &[u8; L], i: usize) -> u16 {
            u16::from_be_bytes([b[i], b[i + 1]])
        }
        fn u32_at<const L: usize>(b: &[u8; L], i: usize) -> u32 {
            u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
        }
        fn u64_at<const L: usize>(b: &[u8; L], i: usize) -> u64 {
            (u64::from(u32_at(b, i)) << 32) | u64::from(u32_at(b, i + 4))
        }
        match MessageType(data.first().copied().unwrap_or(0)) {
            MessageType::REGISTRATION_REQUEST => {
                if let Some(b) = data.first_chunk::<REQUEST_FIXED_LEN>() {
                    let q = Request {
                        flags: RequestFlags(b[1]),
                        lifetime: u16_at(b, 2),
                        home_address: Ipv4Addr::from(u32_at(b, 4)),
                        home_agent: Ipv4Addr::from(u32_at(b, 8)),
                        care_of: Ipv4Addr::from(u32_at(b, 12)),
                        identification: u64_at(b, 16),
                    };
                    return Ok((Header::Request(q), REQUEST_FIXED_LEN));
                }
            }
            MessageType::REGISTRATION_REPLY => {
                if let Some(b) = data.first_chunk::<REPLY_FIXED_LEN>() {
                    let p = Reply {
                        code: ReplyCode(b[1]),
                        lifetime: u16_at(b, 2),
                        home_address: Ipv4Addr::from(u32_at(b, 4)),
                        home_agent: Ipv4Addr::from(u32_at(b, 8)),
                        identification: u64_at(b, 12),
                    };
                    return Ok((Header::Reply(p), REPLY_FIXED_LEN));
                }
            }
            _ => {}
        }
        let mut r = Reader::new(data);
        let t = r.u8(Field::Type)?;
        let h = match MessageType(t) {
            MessageType::REGISTRATION_REQUEST => Header::Request(Request {
                flags: RequestFlags(r.u8(Field::Flags)?),
                lifetime: r.u16(Field::Lifetime)?,
                home_address: r.addr(Field::HomeAddress)?,
                home_agent: r.addr(Field::HomeAgent)?,
                care_of: r.addr(Field::CareOfAddress)?,
                identification: r.u64(Field::Identification)?,
            }),
            MessageType::REGISTRATION_REPLY => Header::Reply(Reply {
                code: ReplyCode(r.u8(Field::Code)?),
                lifetime: r.u16(Field::Lifetime)?,
                home_address: r.addr(Field::HomeAddress)?,
                home_agent: r.addr(Field::HomeAgent)?,
                identification: r.u64(Field::Identification)?,
            }),
            _ => {
                return Err(WireError::UnsupportedMessage {
                    offset: 0,
                    value: t,
                });
            }
        };
        Ok((h, r.offset()))
    }

    /// Encoded length of the fixed part.
    pub const fn encoded_len(&self) -> usize {
        match self {
            Header::Request(_) => REQUEST_FIXED_LEN,
            Header::Reply(_) => REPLY_FIXED_LEN,
        }
    }

    /// Writes the fixed part.
    pub fn emit(&self, out: &mut impl BufMut) {
        match self {
            Header::Request(q) => {
                out.put_u8(MessageType::REGISTRATION_REQUEST.0);
                out.put_u8(q.flags.0);
                out.put_u16(q.lifetime);
                out.put_slice(&q.home_address.octets());
                out.put_slice(&q.home_agent.octets());
                out.put_slice(&q.care_of.octets());
                out.put_u64(q.identification);
            }
            Header::Reply(p) => {
                out.put_u8(MessageType::REGISTRATION_REPLY.0);
                out.put_u8(p.code.0);
                out.put_u16(p.lifetime);
                out.put_slice(&p.home_address.octets());
                out.put_slice(&p.home_agent.octets());
                out.put_u64(p.identification);
            }
        }
    }

    /// The identification field.
    pub const fn identification(&self) -> u64 {
        match self {
            Header::Request(q) => q.identification,
            Header::Reply(p) => p.identification,
        }
    }

    /// The home address field.
    pub const fn home_address(&self) -> Ipv4Addr {
        match self {
            Header::Request(q) => q.home_address,
            Header::Reply(p) => p.home_address,
        }
    }

    /// The home agent field.
    pub const fn home_agent(&self) -> Ipv4Addr {
        match self {
            Header::Request(q) => q.home_agent,
            Header::Reply(p) => p.home_agent,
        }
    }
}

/// A Registration Reply code. Open: unknown codes are kept and reported as such.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(pub u8);

macro_rules! reply_codes {
    ($($name:ident = $v:expr, $doc:expr;)*) => {
        impl ReplyCode {
            $(#[doc = $doc] pub const $name: ReplyCode = ReplyCode($v);)*

            /// What the code means, or `None` for a code this crate does not know.
            pub const fn meaning(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some($doc),)*
                    _ => None,
                }
            }

            /// The constant's name, or `None` for a code this crate does not know.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

reply_codes! {
    ACCEPTED = 0, "registration accepted";
    ACCEPTED_NO_SIMULTANEOUS = 1, "registration accepted, but simultaneous mobility bindings unsupported";
    FA_UNSPECIFIED = 64, "denied by the foreign agent: reason unspecified";
    FA_ADMIN_PROHIBITED = 65, "denied by the foreign agent: administratively prohibited";
    FA_INSUFFICIENT_RESOURCES = 66, "denied by the foreign agent: insufficient resources";
    FA_MN_AUTH_FAILED = 67, "denied by the foreign agent: mobile node failed authentication";
    FA_HA_AUTH_FAILED = 68, "denied by the foreign agent: home agent failed authentication";
    FA_LIFETIME_TOO_LONG = 69, "denied by the foreign agent: requested lifetime too long";
    FA_POORLY_FORMED_REQUEST = 70, "denied by the foreign agent: poorly formed request";
    FA_POORLY_FORMED_REPLY = 71, "denied by the foreign agent: poorly formed reply";
    FA_ENCAPSULATION_UNAVAILABLE = 72, "denied by the foreign agent: requested encapsulation unavailable";
    FA_VJ_UNAVAILABLE = 73, "denied by the foreign agent: reserved (was Van Jacobson compression unavailable)";
    FA_REVERSE_TUNNEL_UNAVAILABLE = 74, "denied by the foreign agent: requested reverse tunnel unavailable";
    FA_REVERSE_TUNNEL_MANDATORY = 75, "denied by the foreign agent: reverse tunnel is mandatory and the T bit is not set";
    FA_MN_TOO_DISTANT = 76, "denied by the foreign agent: mobile node too distant";
    FA_INVALID_CARE_OF = 77, "denied by the foreign agent: invalid care-of address";
    FA_REGISTRATION_TIMEOUT = 78, "denied by the foreign agent: registration timeout";
    FA_DELIVERY_STYLE_UNSUPPORTED = 79, "denied by the foreign agent: delivery style not supported";
    FA_HOME_NETWORK_UNREACHABLE = 80, "denied by the foreign agent: home network unreachable (ICMP error received)";
    FA_HA_HOST_UNREACHABLE = 81, "denied by the foreign agent: home agent host unreachable (ICMP error received)";
    FA_HA_PORT_UNREACHABLE = 82, "denied by the foreign agent: home agent port unreachable (ICMP error received)";
    FA_HA_UNREACHABLE = 88, "denied by the foreign agent: home agent unreachable (other ICMP error received)";
    FA_VENDOR_SPECIFIC = 89, "denied by the foreign agent: vendor-specific reason";
    FA_NONZERO_HA_REQUIRED = 90, "denied by the foreign agent: non-zero home agent address required";
    FA_NONZERO_HOME_ADDRESS_REQUIRED = 96, "denied by the foreign agent: non-zero home address required";
    FA_MISSING_NAI = 97, "denied by the foreign agent: missing NAI";
    FA_MISSING_HOME_AGENT = 98, "denied by the foreign agent: missing home agent";
    FA_MISSING_HOME_ADDRESS = 99, "denied by the foreign agent: missing home address";
    FA_CVSE_FROM_MN = 100, "denied by the foreign agent: unable to interpret a CVSE sent by the mobile node";
    FA_CVSE_FROM_HA = 101, "denied by the foreign agent: unable to interpret a CVSE sent by the home agent";
    FA_UNKNOWN_CHALLENGE = 104, "denied by the foreign agent: unknown challenge";
    FA_MISSING_CHALLENGE = 105, "denied by the foreign agent: missing challenge";
    FA_STALE_CHALLENGE = 106, "denied by the foreign agent: stale challenge";
    FA_MISSING_KEY_NONCE_REPLY = 107, "denied by the foreign agent: missing MN-FA key generation nonce reply extension";
    FA_MN_AAA_AUTH_FAILED = 108, "denied by the foreign agent: mobile node failed AAA authentication";
    FA_HA_WRONG_CHALLENGE = 109, "denied by the foreign agent: home agent sent the wrong challenge in its reply";
    HA_UNSPECIFIED = 128, "denied by the home agent: reason unspecified";
    HA_ADMIN_PROHIBITED = 129, "denied by the home agent: administratively prohibited";
    HA_INSUFFICIENT_RESOURCES = 130, "denied by the home agent: insufficient resources";
    MN_AUTH_FAILED = 131, "denied by the home agent: mobile node failed authentication";
    FA_AUTH_FAILED = 132, "denied by the home agent: foreign agent failed authentication";
    IDENTIFICATION_MISMATCH = 133, "denied by the home agent: registration identification mismatch";
    POORLY_FORMED_REQUEST = 134, "denied by the home agent: poorly formed request";
    TOO_MANY_BINDINGS = 135, "denied by the home agent: too many simultaneous mobility bindings";
    UNKNOWN_HA_ADDRESS = 136, "denied by the home agent: unknown home agent address";
    HA_REVERSE_TUNNEL_UNAVAILABLE = 137, "denied by the home agent: requested reverse tunnel unavailable";
    HA_REVERSE_TUNNEL_MANDATORY = 138, "denied by the home agent: reverse tunnel is mandatory and the T bit is not set";
    HA_ENCAPSULATION_UNAVAILABLE = 139, "denied by the home agent: requested encapsulation unavailable";
    HA_CVSE_FROM_MN = 140, "denied by the home agent: unable to interpret a CVSE sent by the mobile node";
    HA_CVSE_FROM_FA = 141, "denied by the home agent: unable to interpret a CVSE sent by the foreign agent";
    HA_UDP_ENCAPSULATION_UNAVAILABLE = 142, "denied by the home agent: UDP encapsulation unavailable";
    REDIRECTED_HA = 143, "denied by the home agent: register with the redirected home agent";
    HA_MN_AAA_AUTH_FAILED = 144, "denied by the home agent: mobile node failed AAA authentication";
}

impl ReplyCode {
    /// Codes 0 and 1: the registration was accepted.
    pub const fn is_accepted(self) -> bool {
        self.0 <= 1
    }
    /// Codes 64..=127: denied by the foreign agent.
    pub const fn is_foreign_agent_denial(self) -> bool {
        self.0 >= 64 && self.0 <= 127
    }
    /// Codes 128..=255: denied by the home agent.
    pub const fn is_home_agent_denial(self) -> bool {
        self.0 >= 128
    }
}

impl fmt::Debug for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "ReplyCode::{n}({})", self.0),
            None => write!(f, "ReplyCode({})", self.0),
        }
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.meaning() {
            Some(m) => write!(f, "{} ({m})", self.0),
            None => write!(f, "{} (unknown code)", self.0),
        }
    }
}

/// A parsed (or to-be-emitted) registration message: the fixed part and the extensions in order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message<'a> {
    /// The fixed part.
    pub header: Header,
    /// The extensions, in wire order.
    pub extensions: Vec<Extension<'a>>,
}

impl<'a> Message<'a> {
    /// Parses one complete UDP payload. Never panics; opaque values borrow from `data`.
    pub fn parse(data: &'a [u8]) -> Result<Message<'a>, WireError> {
        let (header, start) = Header::parse(data)?;
        let mut r = Reader::new(data);
        r.bytes(start, Field::FixedPart)?;
        let mut extensions = Vec::new();
        while !r.is_empty() {
            extensions.push(Extension::parse(&mut r)?);
        }
        Ok(Message { header, extensions })
    }

    /// Encoded length in bytes.
    pub fn encoded_len(&self) -> usize {
        self.header.encoded_len()
            + self
                .extensions
                .iter()
                .map(Extension::encoded_len)
                .sum::<usize>()
    }

    /// Writes the message. Values too long for their length field are cut to the maximum (see
    /// [`Extension::check`]), so the output is always well-formed.
    pub fn emit(&self, out: &mut impl BufMut) {
        self.header.emit(out);
        for e in &self.extensions {
            e.emit(out);
        }
    }

    /// The encoded message in a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.emit(&mut v);
        v
    }

    /// A copy that owns its opaque values.
    pub fn into_owned(self) -> Message<'static> {
        Message {
            header: self.header,
            extensions: self
                .extensions
                .into_iter()
                .map(Extension::into_owned)
                .collect(),
        }
    }

    /// Index of the first extension of type `t`.
    pub fn position(&self, t: ExtensionType) -> Option<usize> {
        self.extensions.iter().position(|e| e.ext_type() == t)
    }

    /// The first extension of type `t`.
    pub fn find(&self, t: ExtensionType) -> Option<&Extension<'a>> {
        self.extensions.iter().find(|e| e.ext_type() == t)
    }

    /// The Mobile Node NAI (RFC 2794), if present.
    pub fn nai(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Nai(n) => Some(&n[..]),
            _ => None,
        })
    }

    /// The first extension of a type below 128 that this codec does not model: such a request must
    /// be refused with [`ReplyCode::POORLY_FORMED_REQUEST`] (134); such a reply silently discarded.
    pub fn unknown_non_skippable(&self) -> Option<ExtensionType> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Other { ext_type, .. } if !ext_type.is_skippable() => Some(*ext_type),
            _ => None,
        })
    }

    /// Byte offset of extension `index` in the encoded message.
    pub fn offset_of(&self, index: usize) -> Option<usize> {
        if index >= self.extensions.len() {
            return None;
        }
        Some(
            self.header.encoded_len()
                + self.extensions[..index]
                    .iter()
                    .map(Extension::encoded_len)
                    .sum::<usize>(),
        )
    }

    /// How many leading bytes of the encoded message the authenticator of extension `index`
    /// protects: the fixed part, every earlier extension, and this extension's type, length(s) and
    /// SPI (RFC 5944 section 3.5.1, RFC 3012 for the generalized extension). `None` when `index`
    /// is not an authentication extension.
    pub fn authenticated_len(&self, index: usize) -> Option<usize> {
        let e = self.extensions.get(index)?;
        let hdr = e.auth_header_len()?;
        Some(self.offset_of(index)? + hdr)
    }

    /// Verifies the authenticator of extension `index` with `sa`, over `raw`, the bytes this
    /// message was parsed from. Checks that the extension's SPI is the association's. The
    /// comparison is constant-time.
    pub fn verify(
        &self,
        raw: &[u8],
        index: usize,
        sa: &SecurityAssociation,
    ) -> Result<(), AuthError> {
        let e = self
            .extensions
            .get(index)
            .ok_or(AuthError::Missing { index })?;
        let (spi, authenticator) = e
            .spi_and_authenticator()
            .ok_or(AuthError::Missing { index })?;
        if spi != sa.spi {
            return Err(AuthError::UnknownSpi { spi });
        }
        let covered_len = self
            .authenticated_len(index)
            .ok_or(AuthError::Missing { index })?;
        let covered = raw.get(..covered_len).ok_or(AuthError::Truncated {
            needed: covered_len,
            got: raw.len(),
        })?;
        if auth::verify(sa.algorithm, &sa.key, covered, authenticator) {
            Ok(())
        } else {
            Err(AuthError::Mismatch { spi })
        }
    }

    /// [`Message::verify`] with a prepared key for the association with SPI `spi`.
    pub fn verify_prepared(
        &self,
        raw: &[u8],
        index: usize,
        spi: u32,
        key: &PreparedKey,
    ) -> Result<(), AuthError> {
        let (got, authenticator) = self
            .extensions
            .get(index)
            .and_then(Extension::spi_and_authenticator)
            .ok_or(AuthError::Missing { index })?;
        let covered_len = self
            .authenticated_len(index)
            .ok_or(AuthError::Missing { index })?;
        AuthRef {
            spi: got,
            authenticator,
            covered_len,
        }
        .verify_prepared(raw, spi, key)
    }
}
