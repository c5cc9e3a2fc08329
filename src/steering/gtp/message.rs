//! The GTPv1 header and message (TS 29.060 section 6, TS 29.281 section 5).

use super::ie::{Apn, EndUserAddress, Ie, Imsi};
use super::{Cause, EmitError, Field, IeType, MessageType, WireError};
use crate::io::Reader;
use bytes::BufMut;
use std::borrow::Cow;
use std::net::IpAddr;

/// Octets of the mandatory part of the header.
pub const MANDATORY_HEADER_LEN: usize = 8;
/// UDP port of GTP-C.
pub const GTP_C_PORT: u16 = 2123;
/// UDP port of GTP-U.
pub const GTP_U_PORT: u16 = 2152;

/// One extension header of the chain that follows the optional header fields.
///
/// On the wire: a length octet (in units of four octets, counting itself and the next-type octet),
/// the content, and the type of the next extension header (0: none). `content.len()` must be
/// `4n - 2` for some `1 <= n <= 255`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionHeader<'a> {
    /// The type of this extension header (as announced by the previous one); never 0.
    pub ext_type: u8,
    /// The content, between the length octet and the next-type octet.
    pub content: Cow<'a, [u8]>,
}

impl ExtensionHeader<'static> {
    /// Type of the UDP Port extension header (TS 29.281 section 5.2.2.1): the UDP source port
    /// of the G-PDU that triggered an Error Indication.
    pub const UDP_PORT: u8 = 0x40;

    /// A UDP Port extension header carrying `port`.
    pub fn udp_port(port: u16) -> Self {
        ExtensionHeader {
            ext_type: Self::UDP_PORT,
            content: Cow::Owned(port.to_be_bytes().to_vec()),
        }
    }
}

/// The extension header types a GTP endpoint of this crate supports on the plane of `port`
/// (the UDP port the message was sent to), as listed in the Extension Header Type List of its
/// Supported Extension Headers Notification (TS 29.060 sections 7.2.4 and 7.7.40, TS 29.281
/// section 7.2): on GTP-U (port [`GTP_U_PORT`]) the UDP Port extension header (TS 29.281
/// section 5.2.2.1); on GTP-C none.
pub fn supported_extension_headers(port: u16) -> &'static [u8] {
    if port == GTP_U_PORT {
        &[ExtensionHeader::UDP_PORT]
    } else {
        &[]
    }
}

impl ExtensionHeader<'_> {
    /// Whether a receiver that does not know this type must refuse the packet (the two high bits
    /// of the type are `10` or `11`, TS 29.281 section 5.2.1).
    pub fn comprehension_required(&self) -> bool {
        self.ext_type & 0x80 != 0
    }

    /// Detaches the header from the datagram it was parsed from.
    pub fn into_owned(self) -> ExtensionHeader<'static> {
        ExtensionHeader {
            ext_type: self.ext_type,
            content: Cow::Owned(self.content.into_owned()),
        }
    }
}

/// The GTPv1 header (version 1, protocol type 1).
///
/// The optional fields (sequence number, N-PDU number, next extension header type) are on the wire
/// when any of the S, PN or E flags is set; a field whose own flag is clear is then sent as zero and
/// ignored on receipt. The spare bit is sent as zero and ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// The message type.
    pub message_type: MessageType,
    /// The tunnel endpoint identifier of the receiver (0 for set-up requests and path management).
    pub teid: u32,
    /// The sequence number (S flag).
    pub sequence: Option<u16>,
    /// The N-PDU number (PN flag).
    pub npdu: Option<u8>,
    /// The extension header chain (E flag); `Some(vec![])` is E set with next type 0.
    pub extensions: Option<Vec<ExtensionHeader<'a>>>,
}

impl Header<'_> {
    /// Whether the optional four octets are present.
    pub fn has_optional(&self) -> bool {
        self.sequence.is_some() || self.npdu.is_some() || self.extensions.is_some()
    }

    /// The first octet: version, PT, E, S, PN.
    pub fn flags(&self) -> u8 {
        0x30 | (u8::from(self.extensions.is_some()) << 2)
            | (u8::from(self.sequence.is_some()) << 1)
            | u8::from(self.npdu.is_some())
    }

    /// Octets of the header, optional fields and extension headers included.
    pub fn encoded_len(&self) -> usize {
        MANDATORY_HEADER_LEN
            + if self.has_optional() { 4 } else { 0 }
            + self
                .extensions
                .iter()
                .flatten()
                .map(|e| e.content.len() + 2)
                .sum::<usize>()
    }

    /// The type of the first extension header of the chain that the receiving endpoint must
    /// comprehend (the two high bits of its type are `10` or `11`) and that is not in
    /// `supported`; `None` when there is none. TS 29.281 section 5.2.1 and TS 29.060 section
    /// 6.1: such a message is discarded and answered with a Supported Extension Headers
    /// Notification ([`Message::supported_extension_headers_notification`]).
    pub fn unsupported_extension(&self, supported: &[u8]) -> Option<u8> {
        self.extensions
            .iter()
            .flatten()
            .find(|e| e.comprehension_required() && !supported.contains(&e.ext_type))
            .map(|e| e.ext_type)
    }

    /// The port carried by the first UDP Port extension header, if any.
    pub fn udp_port(&self) -> Option<u16> {
        self.extensions
            .iter()
            .flatten()
            .find(|e| e.ext_type == ExtensionHeader::UDP_PORT)
            .and_then(|e| <[u8; 2]>::try_from(e.content.as_ref()).ok())
            .map(u16::from_be_bytes)
    }

    /// Detaches the header from the datagram it was parsed from.
    pub fn into_owned(self) -> Header<'static> {
        Header {
            message_type: self.message_type,
            teid: self.teid,
            sequence: self.sequence,
            npdu: self.npdu,
            extensions: self
                .extensions
                .map(|v| v.into_iter().map(ExtensionHeader::into_owned).collect()),
        }
    }
}

/// The body of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// Information elements, in order (signalling messages, see [`MessageType::has_ies`]).
    Ies(Vec<Ie<'a>>),
    /// The user packet of a G-PDU.
    TPdu(Cow<'a, [u8]>),
    /// The body of a message type this codec does not decode, kept as it is.
    Raw(Cow<'a, [u8]>),
}

/// A GTPv1 message, borrowed from the datagram it was parsed from (or owned, when built).
///
/// The body kind must match the message type ([`MessageType::G_PDU`]: [`Body::TPdu`]; types with
/// [`MessageType::has_ies`]: [`Body::Ies`]; others: [`Body::Raw`]) for a built message to parse
/// back equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The header.
    pub header: Header<'a>,
    /// The body.
    pub body: Body<'a>,
}

/// Parses one GTPv1 message filling the whole datagram.
pub fn parse(data: &[u8]) -> Result<Message<'_>, WireError> {
    Message::parse(data)
}

impl<'a> Message<'a> {
    /// A signalling message with a sequence number.
    pub fn new(message_type: MessageType, teid: u32, sequence: u16, ies: Vec<Ie<'a>>) -> Self {
        Message {
            header: Header {
                message_type,
                teid,
                sequence: Some(sequence),
                npdu: None,
                extensions: None,
            },
            body: Body::Ies(ies),
        }
    }

    /// A G-PDU carrying `payload` to `teid`, without optional header fields.
    pub fn g_pdu(teid: u32, payload: impl Into<Cow<'a, [u8]>>) -> Self {
        Message {
            header: Header {
                message_type: MessageType::G_PDU,
                teid,
                sequence: None,
                npdu: None,
                extensions: None,
            },
            body: Body::TPdu(payload.into()),
        }
    }

    /// A GTP-U Error Indication (TS 29.281 section 7.3.1), the answer to a G-PDU whose TEID names
    /// no context: header TEID 0 and the S flag set (sequence number 0, which the receiver
    /// ignores); the TEID Data I IE holds `teid`, the TEID of the G-PDU that triggered it, and
    /// the GTP-U Peer Address IE (type 133, encoded as a GSN Address) holds `own_addr`, the
    /// address the G-PDU was sent to. `udp_port`, when given, is the UDP source port of that
    /// G-PDU, carried in a UDP Port extension header (type 0x40).
    pub fn error_indication(teid: u32, own_addr: IpAddr, udp_port: Option<u16>) -> Self {
        Message {
            header: Header {
                message_type: MessageType::ERROR_INDICATION,
                teid: 0,
                sequence: Some(0),
                npdu: None,
                extensions: udp_port.map(|p| vec![ExtensionHeader::udp_port(p)]),
            },
            body: Body::Ies(vec![Ie::TeidDataI(teid), Ie::GsnAddress(own_addr)]),
        }
    }

    /// A GTPv1 Version Not Supported message (TS 29.060 section 7.2.3): only a header, whose
    /// version field (1) is the highest version this node supports; TEID 0 and sequence number
    /// 0, as it answers a message whose own header this node does not read.
    pub fn version_not_supported() -> Self {
        Message::new(MessageType::VERSION_NOT_SUPPORTED, 0, 0, Vec::new())
    }

    /// A Supported Extension Headers Notification (TS 29.060 section 7.2.4, TS 29.281 section
    /// 7.2), the answer to a message carrying an extension header the receiver must
    /// comprehend and does not (TS 29.281 section 5.2.1, TS 29.060 section 6.1): header TEID 0,
    /// the S flag set with `sequence` (the triggering message's, 0 if it had none), and the
    /// Extension Header Type List IE (141) holding `supported`, the types the sender supports.
    pub fn supported_extension_headers_notification(sequence: u16, supported: &[u8]) -> Self {
        Message::new(
            MessageType::SUPPORTED_EXTENSION_HEADERS_NOTIFICATION,
            0,
            sequence,
            vec![Ie::ExtensionHeaderTypeList(Cow::Owned(supported.to_vec()))],
        )
    }

    /// The answer TS 29.060 section 11.1.2 asks for when a Request arrives in a UDP payload
    /// `data` whose length disagrees with the header's Length field (octets after the first
    /// eight): the Response (the request's type + 1) carrying only Cause Invalid message format
    /// (193), header TEID 0 (the caller sets the peer's TEID Control Plane if it knows it) and
    /// the request's sequence number. [`parse`] still refuses such a datagram
    /// ([`WireError::BadLength`]); this reads only the fixed header, in place.
    ///
    /// `None` (the datagram is discarded unanswered) when the Length is consistent, the
    /// datagram is too short to hold the GTPv1 header with its sequence number (11.1.2: silently
    /// discarded), the S flag is clear (no sequence number to answer on), or the message type
    /// is not one of the requests a GGSN answers with a Cause: Create, Update and Delete PDP
    /// Context Request (sections 7.3.1, 7.3.3, 7.3.5). So a Response of the wrong length is
    /// never answered (11.1.2: silently discarded), nor an Echo Request (its response has no
    /// Cause).
    ///
    /// ```
    /// use telcp::steering::gtp::{Cause, Message, MessageType};
    /// // A Delete PDP Context Request (20), sequence number 7, Length 5 but 6 octets after the
    /// // first eight.
    /// let req = [0x32, 20, 0, 5, 0, 0, 0, 9, 0, 7, 0, 0, 20, 5];
    /// let r = Message::length_error_response(&req).unwrap();
    /// assert_eq!(r.message_type(), MessageType::DELETE_PDP_CONTEXT_RESPONSE);
    /// assert_eq!((r.header.teid, r.header.sequence), (0, Some(7)));
    /// assert_eq!(r.cause(), Some(Cause::INVALID_MESSAGE_FORMAT));
    /// let consistent = [0x32, 20, 0, 6, 0, 0, 0, 9, 0, 7, 0, 0, 20, 5];
    /// assert!(Message::length_error_response(&consistent).is_none());
    /// ```
    pub fn length_error_response(data: &[u8]) -> Option<Message<'static>> {
        let view = super::GtpView::new_checked(data).ok()?;
        let consistent = usize::from(view.length()) + MANDATORY_HEADER_LEN == data.len();
        let answered = matches!(
            view.message_type(),
            MessageType::CREATE_PDP_CONTEXT_REQUEST
                | MessageType::UPDATE_PDP_CONTEXT_REQUEST
                | MessageType::DELETE_PDP_CONTEXT_REQUEST
        );
        if consistent || !answered || data.len() < MANDATORY_HEADER_LEN + 4 {
            return None;
        }
        let seq = view.sequence()?;
        Some(Message::new(
            MessageType(view.message_type().0 + 1),
            0,
            seq,
            vec![Ie::Cause(Cause::INVALID_MESSAGE_FORMAT)],
        ))
    }

    /// The GTP-U Peer Address of an Error Indication (the first address IE, type 133).
    pub fn gtp_u_peer_address(&self) -> Option<IpAddr> {
        self.gsn_addresses().next()
    }

    /// Parses one GTPv1 message filling the whole datagram (the length field must match it).
    pub fn parse(data: &'a [u8]) -> Result<Message<'a>, WireError> {
        let mut r = Reader::new(data);
        let flags = r.u8(Field::Flags)?;
        let version = flags >> 5;
        if version != 1 {
            return Err(WireError::UnsupportedVersion { version });
        }
        if flags & 0x10 == 0 {
            return Err(WireError::GtpPrime);
        }
        let message_type = MessageType(r.u8(Field::MessageType)?);
        let length = usize::from(r.u16(Field::Length)?);
        let teid = r.u32(Field::Teid)?;
        if length != r.remaining() {
            return Err(WireError::BadLength {
                offset: 2,
                field: Field::Length,
                declared: length,
                actual: r.remaining(),
            });
        }
        let (e, s, pn) = (flags & 0x04 != 0, flags & 0x02 != 0, flags & 0x01 != 0);
        let mut header = Header {
            message_type,
            teid,
            sequence: None,
            npdu: None,
            extensions: None,
        };
        if e || s || pn {
            let seq = r.u16(Field::SequenceNumber)?;
            let npdu = r.u8(Field::NPduNumber)?;
            let mut next = r.u8(Field::NextExtensionHeaderType)?;
            header.sequence = s.then_some(seq);
            header.npdu = pn.then_some(npdu);
            if e {
                let mut chain = Vec::new();
                while next != 0 {
                    let len_offset = r.offset();
                    let units = usize::from(r.u8(Field::ExtensionHeaderLength)?);
                    if units == 0 {
                        return Err(WireError::Invalid {
                            offset: len_offset,
                            field: Field::ExtensionHeaderLength,
                        });
                    }
                    let content = r.bytes(units * 4 - 2, Field::ExtensionHeaderContent)?;
                    chain.push(ExtensionHeader {
                        ext_type: next,
                        content: Cow::Borrowed(content),
                    });
                    next = r.u8(Field::NextExtensionHeaderType)?;
                }
                header.extensions = Some(chain);
            }
        }
        let body = if message_type == MessageType::G_PDU {
            Body::TPdu(Cow::Borrowed(r.rest()))
        } else if message_type.has_ies() {
            let mut ies = Vec::new();
            while !r.is_empty() {
                ies.push(Ie::parse(&mut r)?);
            }
            Body::Ies(ies)
        } else {
            Body::Raw(Cow::Borrowed(r.rest()))
        };
        Ok(Message { header, body })
    }

    /// Octets [`Message::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        self.header.encoded_len()
            + match &self.body {
                Body::Ies(ies) => ies.iter().map(Ie::encoded_len).sum(),
                Body::TPdu(b) | Body::Raw(b) => b.len(),
            }
    }

    /// Checks that the message can be emitted: every IE fits, every extension header has a
    /// non-zero type and a content of `4n - 2` octets, and the whole fits the length field.
    pub fn check(&self) -> Result<(), EmitError> {
        for ext in self.header.extensions.iter().flatten() {
            let l = ext.content.len() + 2;
            if ext.ext_type == 0 || l % 4 != 0 || l / 4 > 255 {
                return Err(EmitError::BadLength {
                    field: Field::ExtensionHeaderContent,
                    length: ext.content.len(),
                });
            }
        }
        if let Body::Ies(ies) = &self.body {
            ies.iter().try_for_each(Ie::check)?;
        }
        let len = self.encoded_len() - MANDATORY_HEADER_LEN;
        if len > usize::from(u16::MAX) {
            return Err(EmitError::BadLength {
                field: Field::Length,
                length: len,
            });
        }
        Ok(())
    }

    /// Writes the message after [`Message::check`]ing it.
    pub fn emit(&self, buf: &mut impl BufMut) -> Result<(), EmitError> {
        self.check()?;
        let h = &self.header;
        buf.put_u8(h.flags());
        buf.put_u8(h.message_type.0);
        let len = self.encoded_len() - MANDATORY_HEADER_LEN;
        buf.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
        buf.put_u32(h.teid);
        if h.has_optional() {
            buf.put_u16(h.sequence.unwrap_or(0));
            buf.put_u8(h.npdu.unwrap_or(0));
            let exts = h.extensions.as_deref().unwrap_or(&[]);
            buf.put_u8(exts.first().map_or(0, |e| e.ext_type));
            for (i, ext) in exts.iter().enumerate() {
                let units = (ext.content.len() + 2) / 4;
                buf.put_u8(u8::try_from(units).unwrap_or(u8::MAX));
                buf.put_slice(&ext.content);
                buf.put_u8(exts.get(i + 1).map_or(0, |e| e.ext_type));
            }
        }
        match &self.body {
            Body::Ies(ies) => ies.iter().for_each(|ie| ie.emit_unchecked(buf)),
            Body::TPdu(b) | Body::Raw(b) => buf.put_slice(b),
        }
        Ok(())
    }

    /// Emits into a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, EmitError> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.emit(&mut v)?;
        Ok(v)
    }

    /// Detaches the message from the datagram it was parsed from.
    pub fn into_owned(self) -> Message<'static> {
        Message {
            header: self.header.into_owned(),
            body: match self.body {
                Body::Ies(ies) => Body::Ies(ies.into_iter().map(Ie::into_owned).collect()),
                Body::TPdu(b) => Body::TPdu(Cow::Owned(b.into_owned())),
                Body::Raw(b) => Body::Raw(Cow::Owned(b.into_owned())),
            },
        }
    }

    /// The message type.
    pub fn message_type(&self) -> MessageType {
        self.header.message_type
    }

    /// The information elements (empty for G-PDUs and raw bodies).
    pub fn ies(&self) -> &[Ie<'a>] {
        match &self.body {
            Body::Ies(ies) => ies,
            _ => &[],
        }
    }

    /// The first element of type `t`.
    pub fn ie(&self, t: IeType) -> Option<&Ie<'a>> {
        self.ies().iter().find(|ie| ie.ie_type() == t)
    }

    /// The Cause IE.
    pub fn cause(&self) -> Option<Cause> {
        self.ies().iter().find_map(|ie| match ie {
            Ie::Cause(c) => Some(*c),
            _ => None,
        })
    }

    /// The IMSI IE.
    pub fn imsi(&self) -> Option<Imsi> {
        self.ies().iter().find_map(|ie| match ie {
            Ie::Imsi(i) => Some(*i),
            _ => None,
        })
    }

    /// The Recovery IE (restart counter).
    pub fn recovery(&self) -> Option<u8> {
        self.ies().iter().find_map(|ie| match ie {
            Ie::Recovery(v) => Some(*v),
            _ => None,
        })
    }

    /// The TEID Data I IE.
    pub fn teid_data_i(&self) -> Option<u32> {
        self.ies().iter().find_map(|ie| match ie {
            Ie::TeidDataI(v) => Some(*v),
            _ => None,
        })
    }

    /// The TEID Control Plane IE.
    pub fn teid_control(&self) -> Option<u32> {
        self.ies().iter().find_map(|ie| match ie {
            Ie::TeidControl(v) => Some(*v),
            _ => None,
        })
    }

    /// The NSAPI (low four bits of the NSAPI IE).
    pub fn nsapi(&self) -> Option<u8> {
        self.ies().iter().find_map(|ie| match ie {
            Ie::Nsapi(v) => Some(*v & 0x0f),
            _ => None,
        })
    }

    /// The End User Address IE.
    pub fn end_user_address(&self) -> Option<&EndUserAddress<'a>> {
        self.ies().iter().find_map(|ie| match ie {
            Ie::EndUserAddress(e) => Some(e),
            _ => None,
        })
    }

    /// The APN IE.
    pub fn apn(&self) -> Option<&Apn<'a>> {
        self.ies().iter().find_map(|ie| match ie {
            Ie::Apn(a) => Some(a),
            _ => None,
        })
    }

    /// The GSN Address IEs in order (in a Create PDP Context Request/Response: the control-plane
    /// address, then the user-plane address).
    pub fn gsn_addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.ies().iter().filter_map(|ie| match ie {
            Ie::GsnAddress(a) => Some(*a),
            _ => None,
        })
    }

    /// The T-PDU of a G-PDU.
    pub fn t_pdu(&self) -> Option<&[u8]> {
        match &self.body {
            Body::TPdu(b) => Some(b),
            _ => None,
        }
    }
}
