//! The PFCP header and message (TS 29.244 sections 7.2.2 and 7.3).

use super::ie::{Budget, Ie, parse_list};
use super::values::{FSeid, NodeId};
use super::{Cause, EmitError, Field, IeType, MAX_IES, MessageType, WireError};
use crate::io::Reader;
use bytes::BufMut;

/// UDP port of PFCP (TS 29.244 section 4.2.2).
pub const PFCP_PORT: u16 = 8805;
/// Octets before the part the length field counts (flags, message type, length).
pub const FIXED_HEADER_LEN: usize = 4;

/// The PFCP header (TS 29.244 section 7.2.2), version 1.
///
/// The spare bits of the first octet and of the last header octet are sent as zero and ignored
/// on receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The message type.
    pub message_type: MessageType,
    /// The SEID (flag S = 1): present in session messages ([`MessageType::is_session`]), 0 in a
    /// Session Establishment Request, which has no peer SEID yet (section 7.2.2.4.2).
    pub seid: Option<u64>,
    /// The 24-bit sequence number.
    pub sequence: u32,
    /// The message priority, 0 (highest) to 15 (flag MP = 1, section 7.2.2.4.3).
    pub priority: Option<u8>,
    /// Flag FO (Follow On): another message follows in the same UDP datagram (Release 16,
    /// section 7.2.2.1).
    pub follow_on: bool,
}

impl Header {
    /// The first octet: version 1, FO, MP, S.
    pub fn flags(&self) -> u8 {
        0x20 | u8::from(self.follow_on) << 2
            | u8::from(self.priority.is_some()) << 1
            | u8::from(self.seid.is_some())
    }

    /// Octets of the header.
    pub fn encoded_len(&self) -> usize {
        FIXED_HEADER_LEN + 4 + if self.seid.is_some() { 8 } else { 0 }
    }
}

/// A PFCP message: its header and its information elements in order, borrowed from the
/// datagram it was parsed from (or owned, when built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The header.
    pub header: Header,
    /// The information elements.
    pub ies: Vec<Ie<'a>>,
}

/// Parses one PFCP message filling the whole datagram.
pub fn parse(data: &[u8]) -> Result<Message<'_>, WireError> {
    Message::parse(data)
}

impl<'a> Message<'a> {
    /// A message with a header without priority: with a SEID (S = 1) for session message types,
    /// without for node message types (TS 29.244 section 7.2.2.1).
    pub fn new(message_type: MessageType, seid: u64, sequence: u32, ies: Vec<Ie<'a>>) -> Self {
        Message {
            header: Header {
                message_type,
                seid: message_type.is_session().then_some(seid),
                sequence,
                priority: None,
                follow_on: false,
            },
            ies,
        }
    }

    /// A Heartbeat Request (TS 29.244 section 7.4.2.1): the sender's Recovery Time Stamp.
    pub fn heartbeat_request(sequence: u32, recovery_time_stamp: u32) -> Self {
        Message::new(
            MessageType::HEARTBEAT_REQUEST,
            0,
            sequence,
            vec![Ie::RecoveryTimeStamp(recovery_time_stamp)],
        )
    }

    /// A Heartbeat Response (TS 29.244 section 7.4.2.2): the request's sequence number and the
    /// responder's Recovery Time Stamp.
    pub fn heartbeat_response(sequence: u32, recovery_time_stamp: u32) -> Self {
        Message::new(
            MessageType::HEARTBEAT_RESPONSE,
            0,
            sequence,
            vec![Ie::RecoveryTimeStamp(recovery_time_stamp)],
        )
    }

    /// A Version Not Supported Response (TS 29.244 section 7.4.4.7): only a header, with the
    /// sequence number of the request it answers.
    pub fn version_not_supported_response(sequence: u32) -> Self {
        Message::new(
            MessageType::VERSION_NOT_SUPPORTED_RESPONSE,
            0,
            sequence,
            vec![],
        )
    }

    /// Parses one PFCP message filling the whole datagram (the length field must match it).
    pub fn parse(data: &'a [u8]) -> Result<Message<'a>, WireError> {
        Message::parse_one(data, false).map(|(m, _)| m)
    }

    /// Parses the first message of a datagram and returns the octets after it: with flag FO = 1
    /// another message follows in the same datagram (TS 29.244 section 7.2.2.1); with FO = 0 the
    /// message must fill the datagram. Offsets in errors count from this message's first octet.
    pub fn parse_first(data: &'a [u8]) -> Result<(Message<'a>, &'a [u8]), WireError> {
        Message::parse_one(data, true)
    }

    fn parse_one(data: &'a [u8], follow: bool) -> Result<(Message<'a>, &'a [u8]), WireError> {
        let mut r = Reader::new(data);
        let flags = r.u8(Field::Flags)?;
        let version = flags >> 5;
        if version != 1 {
            return Err(WireError::UnsupportedVersion { version });
        }
        let message_type = MessageType(r.u8(Field::MessageType)?);
        let length = usize::from(r.u16(Field::Length)?);
        let more = follow && flags & 0x04 != 0;
        if length > r.remaining() || (length < r.remaining() && !more) {
            return Err(WireError::BadLength {
                offset: 2,
                field: Field::Length,
                length,
                available: r.remaining(),
            });
        }
        let (own, rest) = r.rest().split_at_checked(length).unwrap_or((r.rest(), &[]));
        let mut r = Reader::at(own, FIXED_HEADER_LEN);
        let seid = if flags & 0x01 != 0 {
            Some(r.u64(Field::Seid)?)
        } else {
            None
        };
        let sequence = u32::from(r.u8(Field::SequenceNumber)?) << 16
            | u32::from(r.u16(Field::SequenceNumber)?);
        let last = r.u8(Field::MessagePriority)?;
        let header = Header {
            message_type,
            seid,
            sequence,
            priority: (flags & 0x02 != 0).then_some(last >> 4),
            follow_on: flags & 0x04 != 0,
        };
        let ies = parse_list(&mut r, 0, &mut Budget::new())?;
        Ok((Message { header, ies }, rest))
    }

    /// Octets [`Message::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        self.header.encoded_len() + self.ies.iter().map(Ie::encoded_len).sum::<usize>()
    }

    /// Checks that the message can be emitted and parses back equal: the sequence number fits 24
    /// bits and the priority 4, every IE is valid, nesting and IE count are within
    /// [`super::MAX_DEPTH`] and [`MAX_IES`], and the whole fits the length field.
    pub fn check(&self) -> Result<(), EmitError> {
        if self.header.sequence > 0x00ff_ffff {
            return Err(EmitError::Invalid {
                field: Field::SequenceNumber,
            });
        }
        if self.header.priority.is_some_and(|p| p > 15) {
            return Err(EmitError::Invalid {
                field: Field::MessagePriority,
            });
        }
        if self.ies.iter().map(Ie::count).sum::<usize>() > MAX_IES {
            return Err(EmitError::TooManyIes);
        }
        for ie in &self.ies {
            ie.check_at(0)?;
        }
        let len = self.encoded_len() - FIXED_HEADER_LEN;
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
        let len = self.encoded_len() - FIXED_HEADER_LEN;
        buf.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
        if let Some(seid) = h.seid {
            buf.put_u64(seid);
        }
        let [_, a, b, c] = h.sequence.to_be_bytes();
        buf.put_slice(&[a, b, c]);
        buf.put_u8(h.priority.map_or(0, |p| p << 4));
        self.ies.iter().for_each(|ie| ie.emit_unchecked(buf));
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
        }
    }

    /// The message type.
    pub fn message_type(&self) -> MessageType {
        self.header.message_type
    }

    /// The first top-level element of type `t`.
    pub fn ie(&self, t: IeType) -> Option<&Ie<'a>> {
        self.ies.iter().find(|ie| ie.ie_type() == t)
    }

    /// Every top-level element of type `t`, in order (e.g. the Create PDRs of a Session
    /// Establishment Request).
    pub fn ies_of(&self, t: IeType) -> impl Iterator<Item = &Ie<'a>> + '_ {
        self.ies.iter().filter(move |ie| ie.ie_type() == t)
    }

    /// The Cause IE (section 8.2.1).
    pub fn cause(&self) -> Option<Cause> {
        self.ies.iter().find_map(|ie| match ie {
            Ie::Cause(c) => Some(*c),
            _ => None,
        })
    }

    /// The Node ID IE (section 8.2.38).
    pub fn node_id(&self) -> Option<&NodeId<'a>> {
        self.ies.iter().find_map(|ie| match ie {
            Ie::NodeId(n) => Some(n),
            _ => None,
        })
    }

    /// The CP or UP F-SEID IE (section 8.2.37).
    pub fn f_seid(&self) -> Option<FSeid> {
        self.ies.iter().find_map(|ie| match ie {
            Ie::FSeid(f) => Some(*f),
            _ => None,
        })
    }

    /// The Recovery Time Stamp IE (section 8.2.65).
    pub fn recovery_time_stamp(&self) -> Option<u32> {
        self.ies.iter().find_map(|ie| match ie {
            Ie::RecoveryTimeStamp(t) => Some(*t),
            _ => None,
        })
    }
}
