//! The GTPv2-C header and message (TS 29.274 sections 5 and 7).

use super::ie::{Ie, IeValue, check_ies, find, parse_ies};
use super::values::{Cause, Fteid, Tbcd};
use super::{CauseValue, EmitError, Field, IeType, MessageType, WireError};
use crate::io::Reader;
use bytes::BufMut;

/// UDP port of GTPv2-C (TS 29.274 section 4.2).
pub const GTP_C_PORT: u16 = 2123;
/// Octets of the header before the message length counts (flags, type, length).
const PREFIX_LEN: usize = 4;
/// Largest 24-bit sequence number.
pub const MAX_SEQUENCE: u32 = 0x00ff_ffff;

/// The GTPv2-C header (TS 29.274 sections 5.1 and 5.4): version 2, the T flag (TEID present), the
/// MP flag with its message priority, the message type, the length, the TEID and the 24-bit
/// sequence number. The P flag is [`Message::piggybacked`]'s presence. Spare bits are sent as
/// zero and ignored on receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The message type.
    pub message_type: MessageType,
    /// The TEID (T = 1); `None` for Echo and Version Not Supported Indication (section 5.5.1),
    /// `Some(0)` for an initial message whose receiver has no TEID yet (section 5.5.2).
    pub teid: Option<u32>,
    /// The sequence number (at most [`MAX_SEQUENCE`]).
    pub sequence: u32,
    /// The message priority (MP = 1), at most 15 (section 5.4, 0 highest).
    pub priority: Option<u8>,
}

impl Header {
    /// Octets of the header.
    pub fn encoded_len(&self) -> usize {
        PREFIX_LEN + if self.teid.is_some() { 8 } else { 4 }
    }

    fn parse(
        r: &mut Reader<'_>,
        flags: u8,
        message_type: MessageType,
    ) -> Result<Header, WireError> {
        let teid = if flags & 0x08 != 0 {
            Some(r.u32(Field::Teid)?)
        } else {
            None
        };
        let sequence = r.u24(Field::SequenceNumber)?;
        let last = r.u8(Field::MessagePriority)?;
        let priority = (flags & 0x04 != 0).then_some(last >> 4);
        Ok(Header {
            message_type,
            teid,
            sequence,
            priority,
        })
    }
}

/// A GTPv2-C message: its header, its IEs in order, and the message piggybacked after it (P
/// flag, TS 29.274 section 5.5.1: a Create Bearer Request after a Create Session Response, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The header.
    pub header: Header,
    /// The information elements, in order.
    pub ies: Vec<Ie<'a>>,
    /// The piggybacked message (whose own P flag is 0).
    pub piggybacked: Option<Box<Message<'a>>>,
}

/// Parses one GTPv2-C datagram: a message, and the message it piggybacks if its P flag is set.
pub fn parse(data: &[u8]) -> Result<Message<'_>, WireError> {
    Message::parse(data)
}

impl<'a> Message<'a> {
    /// A message of `message_type` with `teid` (`None`: T = 0), `sequence` and `ies`.
    pub fn new(
        message_type: MessageType,
        teid: Option<u32>,
        sequence: u32,
        ies: Vec<Ie<'a>>,
    ) -> Self {
        Message {
            header: Header {
                message_type,
                teid,
                sequence,
                priority: None,
            },
            ies,
            piggybacked: None,
        }
    }

    /// An Echo Request (TS 29.274 section 7.1.1): no TEID, the sender's Recovery.
    pub fn echo_request(sequence: u32, recovery: u8) -> Self {
        let ies = vec![Ie::new(IeValue::Recovery(recovery))];
        Message::new(MessageType::ECHO_REQUEST, None, sequence, ies)
    }

    /// An Echo Response (TS 29.274 section 7.1.2): no TEID, the request's sequence number, the
    /// sender's Recovery.
    pub fn echo_response(sequence: u32, recovery: u8) -> Self {
        let ies = vec![Ie::new(IeValue::Recovery(recovery))];
        Message::new(MessageType::ECHO_RESPONSE, None, sequence, ies)
    }

    /// A Version Not Supported Indication (TS 29.274 section 7.1.3): a header only, no TEID, the
    /// sequence number of the message it answers.
    pub fn version_not_supported_indication(sequence: u32) -> Self {
        Message::new(
            MessageType::VERSION_NOT_SUPPORTED_INDICATION,
            None,
            sequence,
            Vec::new(),
        )
    }

    /// The response to a request whose Length field disagrees with the datagram (TS 29.274
    /// section 7.7.3: "shall send the Response message with Cause IE value set to 'Invalid
    /// Length'"): for a Create Session, Modify Bearer or Delete Session Request (the requests a
    /// gateway answers with a Cause) of version 2 whose header is whole, the response type with
    /// only Cause Invalid Length (67), header TEID 0 (the peer's TEID is not read from a
    /// malformed message; a caller that knows the session sets it) and the request's sequence
    /// number. `None` for a consistent length (a piggybacked message may follow when P = 1), a
    /// response or another type, or a datagram too short for its header (silently discarded).
    ///
    /// ```
    /// use telcp::steering::gtpv2::{CauseValue, Message, MessageType};
    ///
    /// // A Modify Bearer Request (T = 1, TEID 9, sequence 7) whose Length claims 4 more octets.
    /// let short = [0x48, 34, 0, 12, 0, 0, 0, 9, 0, 0, 7, 0];
    /// let r = Message::length_error_response(&short).unwrap();
    /// assert_eq!(r.message_type(), MessageType::MODIFY_BEARER_RESPONSE);
    /// assert_eq!((r.header.teid, r.header.sequence), (Some(0), 7));
    /// assert_eq!(r.cause_value(), Some(CauseValue::INVALID_LENGTH));
    /// let whole = [0x48, 34, 0, 8, 0, 0, 0, 9, 0, 0, 7, 0];
    /// assert!(Message::length_error_response(&whole).is_none());
    /// ```
    pub fn length_error_response(data: &[u8]) -> Option<Message<'static>> {
        let (&flags, &t) = (data.first()?, data.get(1)?);
        let t = MessageType(t);
        let header_len = if flags & 0x08 != 0 { 12 } else { 8 };
        let answered = matches!(
            t,
            MessageType::CREATE_SESSION_REQUEST
                | MessageType::MODIFY_BEARER_REQUEST
                | MessageType::DELETE_SESSION_REQUEST
        );
        let length = usize::from(u16::from_be_bytes([*data.get(2)?, *data.get(3)?]));
        let whole = length + PREFIX_LEN;
        let consistent = whole >= header_len
            && (whole == data.len() || (flags & 0x10 != 0 && whole < data.len()));
        if flags >> 5 != 2 || !answered || consistent || data.len() < header_len {
            return None;
        }
        let at = header_len - 4;
        let sequence = Reader::at(data.get(at..)?, at)
            .u24(Field::SequenceNumber)
            .ok()?;
        let cause = Cause::new(CauseValue::INVALID_LENGTH);
        Some(Message::new(
            MessageType(t.0 + 1),
            Some(0),
            sequence,
            vec![Ie::new(IeValue::Cause(cause))],
        ))
    }

    /// Parses one GTPv2-C datagram: a message filling it, or a message with P = 1 and the
    /// piggybacked message filling the rest (TS 29.274 section 5.5.1).
    pub fn parse(data: &'a [u8]) -> Result<Message<'a>, WireError> {
        let mut r = Reader::new(data);
        let (mut m, p) = Message::parse_one(&mut r)?;
        let mut last = 0;
        if p {
            if r.is_empty() {
                return Err(WireError::Truncated {
                    offset: r.offset(),
                    field: Field::PiggybackedMessage,
                });
            }
            let at = r.offset();
            last = at;
            let (pm, pp) = Message::parse_one(&mut r)?;
            if pp {
                return Err(WireError::Invalid {
                    offset: at,
                    field: Field::Flags,
                });
            }
            m.piggybacked = Some(Box::new(pm));
        }
        if !r.is_empty() {
            return Err(WireError::BadLength {
                offset: last + 2,
                field: Field::Length,
                length: r.offset() - last - PREFIX_LEN,
                available: data.len() - last - PREFIX_LEN,
            });
        }
        Ok(m)
    }

    /// Parses the message at `r`'s position, leaving `r` after it; also returns its P flag.
    fn parse_one(r: &mut Reader<'a>) -> Result<(Message<'a>, bool), WireError> {
        let start = r.offset();
        let flags = r.u8(Field::Flags)?;
        let version = flags >> 5;
        if version != 2 {
            return Err(WireError::UnsupportedVersion {
                offset: start,
                version,
            });
        }
        let message_type = MessageType(r.u8(Field::MessageType)?);
        let length = usize::from(r.u16(Field::Length)?);
        if length > r.remaining() {
            return Err(WireError::BadLength {
                offset: start + 2,
                field: Field::Length,
                length,
                available: r.remaining(),
            });
        }
        let body = r.bytes(length, Field::Length)?;
        let mut b = Reader::at(body, start + PREFIX_LEN);
        let header = Header::parse(&mut b, flags, message_type)?;
        let ies = parse_ies(&mut b, 0, &mut 0)?;
        let m = Message {
            header,
            ies,
            piggybacked: None,
        };
        Ok((m, flags & 0x10 != 0))
    }

    /// Octets of this message without the piggybacked one.
    fn encoded_len_alone(&self) -> usize {
        self.header.encoded_len() + self.ies.iter().map(Ie::encoded_len).sum::<usize>()
    }

    /// Octets [`Message::emit`] writes (the piggybacked message included).
    pub fn encoded_len(&self) -> usize {
        self.encoded_len_alone() + self.piggybacked.as_ref().map_or(0, |p| p.encoded_len())
    }

    /// Checks that the message can be emitted: header fields within their bits, every IE
    /// ([`Ie::check`]) within [`super::MAX_IES`] and [`super::MAX_GROUP_DEPTH`], the length
    /// within 16 bits, and a piggybacked message that piggybacks nothing.
    pub fn check(&self) -> Result<(), EmitError> {
        let h = &self.header;
        if h.sequence > MAX_SEQUENCE {
            return Err(EmitError::OutOfRange {
                field: Field::SequenceNumber,
            });
        }
        if h.priority.is_some_and(|p| p > 15) {
            return Err(EmitError::OutOfRange {
                field: Field::MessagePriority,
            });
        }
        check_ies(&self.ies, 0, &mut 0)?;
        let len = self.encoded_len_alone() - PREFIX_LEN;
        if len > usize::from(u16::MAX) {
            return Err(EmitError::BadLength {
                field: Field::Length,
                length: len,
            });
        }
        match &self.piggybacked {
            Some(p) if p.piggybacked.is_some() => Err(EmitError::NestedPiggyback),
            Some(p) => p.check(),
            None => Ok(()),
        }
    }

    fn emit_unchecked(&self, buf: &mut impl BufMut) {
        let h = &self.header;
        let flags = 0x40
            | (u8::from(self.piggybacked.is_some()) << 4)
            | (u8::from(h.teid.is_some()) << 3)
            | (u8::from(h.priority.is_some()) << 2);
        buf.put_u8(flags);
        buf.put_u8(h.message_type.0);
        let len = self.encoded_len_alone() - PREFIX_LEN;
        buf.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
        if let Some(t) = h.teid {
            buf.put_u32(t);
        }
        buf.put_slice(h.sequence.to_be_bytes().get(1..).unwrap_or(&[]));
        buf.put_u8(h.priority.map_or(0, |p| p << 4));
        self.ies.iter().for_each(|ie| ie.emit_unchecked(buf));
        if let Some(p) = &self.piggybacked {
            p.emit_unchecked(buf);
        }
    }

    /// Writes the message (and the piggybacked one) after [`Message::check`]ing it.
    pub fn emit(&self, buf: &mut impl BufMut) -> Result<(), EmitError> {
        self.check()?;
        self.emit_unchecked(buf);
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
            header: self.header,
            ies: self.ies.into_iter().map(Ie::into_owned).collect(),
            piggybacked: self.piggybacked.map(|p| Box::new(p.into_owned())),
        }
    }

    /// The message type.
    pub fn message_type(&self) -> MessageType {
        self.header.message_type
    }

    /// The first top-level element of type `t` and instance `instance`.
    pub fn ie(&self, t: IeType, instance: u8) -> Option<&Ie<'a>> {
        find(&self.ies, t, instance)
    }

    /// The Cause IE (instance 0).
    pub fn cause(&self) -> Option<Cause> {
        match self.ie(IeType::CAUSE, 0)?.value {
            IeValue::Cause(c) => Some(c),
            _ => None,
        }
    }

    /// The cause value of the Cause IE, for answers.
    pub fn cause_value(&self) -> Option<CauseValue> {
        self.cause().map(|c| c.value)
    }

    /// The Recovery IE (instance 0): the sender's restart counter.
    pub fn recovery(&self) -> Option<u8> {
        match self.ie(IeType::RECOVERY, 0)?.value {
            IeValue::Recovery(r) => Some(r),
            _ => None,
        }
    }

    /// The IMSI IE (instance 0).
    pub fn imsi(&self) -> Option<&Tbcd<'a>> {
        match &self.ie(IeType::IMSI, 0)?.value {
            IeValue::Imsi(t) => Some(t),
            _ => None,
        }
    }

    /// The Access Point Name IE (instance 0; TS 29.274 section 8.6: encoded as in TS 23.003
    /// section 9.1, as GTPv1's [`crate::steering::gtp::Apn`]).
    pub fn apn(&self) -> Option<&super::Apn<'a>> {
        match &self.ie(IeType::APN, 0)?.value {
            IeValue::Apn(a) => Some(a),
            _ => None,
        }
    }

    /// The top-level F-TEID IE of instance `instance` (in a Create Session Request, 0 is the
    /// sender's F-TEID for control plane, 1 the PGW S5/S8 address; TS 29.274 table 7.2.1-1).
    pub fn fteid(&self, instance: u8) -> Option<Fteid> {
        match self.ie(IeType::F_TEID, instance)?.value {
            IeValue::Fteid(f) => Some(f),
            _ => None,
        }
    }

    /// The Bearer Context IEs (any instance), each as its list of IEs.
    pub fn bearer_contexts(&self) -> impl Iterator<Item = &[Ie<'a>]> + '_ {
        self.ies
            .iter()
            .filter(|ie| ie.ie_type() == IeType::BEARER_CONTEXT)
            .map(Ie::ies)
    }
}
