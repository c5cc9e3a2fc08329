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

/// The most PFCP messages the gateway takes from one datagram (flag FO, TS 29.244 section
/// 7.2.2.1 and section 6.5, PFCP message bundling): the line interface steers at most this many
/// messages of a bundle and discards the rest unread.
pub const MAX_BUNDLE: usize = 16;

/// The messages of a datagram that may be a bundle (TS 29.244 section 7.2.2.1: flag FO = 1,
/// "another PFCP message follows in the same UDP/IP datagram"), each as the octets of its own
/// datagram, in order, read from the headers' first four octets only.
///
/// A message of version 1 with FO = 1 whose Length leaves octets after it (and covers at least
/// its header: 8 octets, 16 with S = 1) is cut there; the octets after it are read the same way.
/// Anything else ends the walk as one last item holding all the octets left: a message with
/// FO = 0, of another version, with nothing after it, or with a Length that does not fit (so
/// its receiver reads it as the single message of a datagram and answers as section 7.6
/// says, e.g. Invalid length for a request, section 7.6.3). Nothing is parsed beyond the
/// header's first four octets, nothing allocates, every item is non-empty and their
/// concatenation is `data`; an empty `data` gives no item.
///
/// ```
/// use telcp::steering::pfcp::bundle;
///
/// // Two Heartbeat Requests (sequence 1 and 2) in one datagram, the first with FO = 1.
/// let data = [
///     0x24, 1, 0, 4, 0, 0, 1, 0, // FO = 1, Length 4
///     0x20, 1, 0, 4, 0, 0, 2, 0, // FO = 0
/// ];
/// let parts: Vec<&[u8]> = bundle(&data).collect();
/// assert_eq!(parts, [&data[..8], &data[8..]]);
/// // FO = 0: one message, trailing octets and all.
/// assert_eq!(bundle(&data[8..]).count(), 1);
/// ```
pub fn bundle(data: &[u8]) -> Bundle<'_> {
    Bundle { rest: data }
}

/// The iterator of [`bundle`].
#[derive(Debug, Clone)]
pub struct Bundle<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Bundle<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let cut = match *self.rest {
            [flags, _, l0, l1, ..] if flags >> 5 == 1 && flags & 0x04 != 0 => {
                let whole = FIXED_HEADER_LEN + usize::from(u16::from_be_bytes([l0, l1]));
                let header = if flags & 0x01 != 0 { 16 } else { 8 };
                (whole >= header && whole < self.rest.len()).then_some(whole)
            }
            _ => None,
        };
        let (first, rest) = self
            .rest
            .split_at_checked(cut.unwrap_or(self.rest.len()))
            .unwrap_or((self.rest, &[]));
        self.rest = rest;
        Some(first)
    }
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

    /// The sequence number of a datagram whose version is not 1, read where version 1 has it
    /// (after the SEID when S = 1), for its Version Not Supported Response (TS 29.244 section
    /// 7.6.2); `None` when the datagram is too short for that header, or is itself a Version
    /// Not Supported Response (never answered, so two nodes cannot answer each other forever)
    /// or of version 1.
    ///
    /// ```
    /// use telcp::steering::pfcp::Message;
    ///
    /// let v2_heartbeat = [0x40, 1, 0, 12, 0, 0, 9, 0, 0, 96, 0, 4, 0, 0, 0, 1];
    /// assert_eq!(Message::unsupported_version_sequence(&v2_heartbeat), Some(9));
    /// assert_eq!(Message::unsupported_version_sequence(&[0x40, 11, 0, 4, 0, 0, 9, 0]), None);
    /// ```
    pub fn unsupported_version_sequence(data: &[u8]) -> Option<u32> {
        let (&flags, &t) = (data.first()?, data.get(1)?);
        if flags >> 5 == 1 || MessageType(t) == MessageType::VERSION_NOT_SUPPORTED_RESPONSE {
            return None;
        }
        let at = if flags & 0x01 != 0 { 12 } else { 4 };
        let mut r = Reader::at(data.get(at..)?, at);
        let sequence = r.u24(Field::SequenceNumber).ok()?;
        r.u8(Field::MessagePriority).ok()?;
        Some(sequence)
    }

    /// The response to a request whose Length field disagrees with the datagram (TS 29.244
    /// section 7.6.3: "shall send the Response message with Cause IE value set to 'Invalid
    /// length'"): for an Association Setup, Update or Release Request or a Session
    /// Establishment, Modification or Deletion Request of version 1 whose header is whole, the
    /// response type with `node_id` (the responder's Node ID, for the node messages and the
    /// Session Establishment Response, whose tables make it mandatory) and Cause Invalid length
    /// (68), header SEID 0 for session messages (the peer's SEID is not read from a malformed
    /// message; a caller that knows the session sets it), the request's sequence number.
    /// `None` for a consistent length (or more octets with FO = 1), a response or another type,
    /// or a datagram too short for its header (silently discarded).
    ///
    /// ```
    /// use telcp::steering::pfcp::{Cause, Ie, Message, MessageType, NodeId};
    ///
    /// // An Association Setup Request (sequence 5) whose Length claims 4 more octets.
    /// let short = [0x20, 5, 0, 8, 0, 0, 5, 0];
    /// let node = Ie::NodeId(NodeId::Ipv4([192, 0, 2, 1].into()));
    /// let r = Message::length_error_response(&short, node.clone()).unwrap();
    /// assert_eq!(r.message_type(), MessageType::ASSOCIATION_SETUP_RESPONSE);
    /// assert_eq!((r.header.sequence, r.cause()), (5, Some(Cause::INVALID_LENGTH)));
    /// assert!(Message::length_error_response(&[0x20, 5, 0, 4, 0, 0, 5, 0], node).is_none());
    /// ```
    pub fn length_error_response(data: &[u8], node_id: Ie<'static>) -> Option<Message<'static>> {
        let (&flags, &t) = (data.first()?, data.get(1)?);
        let t = MessageType(t);
        let header_len = if flags & 0x01 != 0 { 16 } else { 8 };
        let with_node = matches!(
            t,
            MessageType::ASSOCIATION_SETUP_REQUEST
                | MessageType::ASSOCIATION_UPDATE_REQUEST
                | MessageType::ASSOCIATION_RELEASE_REQUEST
                | MessageType::SESSION_ESTABLISHMENT_REQUEST
        );
        let answered = with_node
            || matches!(
                t,
                MessageType::SESSION_MODIFICATION_REQUEST | MessageType::SESSION_DELETION_REQUEST
            );
        let length = usize::from(u16::from_be_bytes([*data.get(2)?, *data.get(3)?]));
        let whole = length + FIXED_HEADER_LEN;
        let consistent = whole >= header_len
            && (whole == data.len() || (flags & 0x04 != 0 && whole < data.len()));
        if flags >> 5 != 1 || !answered || consistent || data.len() < header_len {
            return None;
        }
        let at = header_len - 4;
        let sequence = Reader::at(data.get(at..)?, at)
            .u24(Field::SequenceNumber)
            .ok()?;
        let mut ies = Vec::new();
        if with_node {
            ies.push(node_id);
        }
        ies.push(Ie::Cause(Cause::INVALID_LENGTH));
        Some(Message::new(MessageType(t.0 + 1), 0, sequence, ies))
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
        let sequence = r.u24(Field::SequenceNumber)?;
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

    /// The Node ID as a receiver reads it (section 8.2.38): the typed [`Message::node_id`], or a
    /// Node ID IE whose type octet has spare bits (8 to 5) set, read by its type (bits 4 to 1)
    /// with those bits ignored; `None` without a Node ID IE or with one of an undefined type or
    /// a length its type does not have.
    ///
    /// ```
    /// use telcp::steering::pfcp::{Message, NodeId};
    ///
    /// // An Association Release Request whose Node ID type octet is 0x50 (spare bits set).
    /// let data = [0x20, 9, 0, 13, 0, 0, 1, 0, 0, 60, 0, 5, 0x50, 192, 0, 2, 7];
    /// let m = Message::parse(&data).unwrap();
    /// assert_eq!(m.node_id(), None);
    /// assert_eq!(m.node_id_received(), Some(NodeId::Ipv4([192, 0, 2, 7].into())));
    /// ```
    pub fn node_id_received(&self) -> Option<NodeId<'static>> {
        if let Some(n) = self.node_id() {
            return Some(n.clone().into_owned());
        }
        let value = self.ies.iter().find_map(|ie| match ie {
            Ie::Raw { ie_type, value } if *ie_type == IeType::NODE_ID => Some(value),
            _ => None,
        })?;
        let (&t, rest) = value.split_first()?;
        let mut v = vec![t & 0x0f];
        v.extend_from_slice(rest);
        NodeId::decode(&v).map(NodeId::into_owned)
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

#[cfg(test)]
mod tests {
    use super::bundle;
    use proptest::prelude::*;

    /// A header of version 1 (TS 29.244 section 7.2.2.1, figure 7.2.2.1-1): octet 1 the flags
    /// (FO bit 3, MP bit 2, S bit 1), octet 2 the type, octets 3-4 the Length (the octets after
    /// the first four), then without S the 3-octet sequence number and a spare octet.
    fn node(fo: bool, seq: u8) -> Vec<u8> {
        vec![0x20 | u8::from(fo) << 2, 1, 0, 4, 0, 0, seq, 0]
    }

    #[test]
    fn a_bundle_is_cut_after_each_message_with_follow_on() {
        let mut data = node(true, 1);
        data.extend(node(true, 2));
        data.extend(node(false, 3));
        let parts: Vec<&[u8]> = bundle(&data).collect();
        assert_eq!(parts, [&data[..8], &data[8..16], &data[16..]]);
    }

    #[test]
    fn what_cannot_be_cut_is_one_last_item() {
        // FO = 1 and nothing after: one message.
        assert_eq!(bundle(&node(true, 1)).count(), 1);
        // FO = 0 with octets after: one item, trailing octets and all (a length error).
        let mut data = node(false, 1);
        data.extend(node(false, 2));
        assert_eq!(bundle(&data).collect::<Vec<_>>(), [&data[..]]);
        // FO = 1 whose Length runs past the datagram: the rest as one item.
        let mut data = node(true, 1);
        data[3] = 40;
        data.extend(node(false, 2));
        assert_eq!(bundle(&data).count(), 1);
        // FO = 1 whose Length is shorter than its header (S = 1 needs 16 octets).
        let mut data = vec![0x25, 52, 0, 4, 0, 0, 0, 1];
        data.extend(node(false, 2));
        assert_eq!(bundle(&data).count(), 1);
        // A follower of version 2: cut before it, then kept whole.
        let mut data = node(true, 1);
        data.extend([0x44, 1, 0, 4, 0, 0, 2, 0, 0x20]);
        assert_eq!(bundle(&data).map(<[u8]>::len).collect::<Vec<_>>(), [8, 9]);
        assert_eq!(bundle(&[]).count(), 0);
    }

    proptest! {
        /// Whatever the octets: the items are non-empty and joined are the datagram.
        #[test]
        fn the_items_are_the_datagram(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let parts: Vec<&[u8]> = bundle(&data).collect();
            prop_assert!(parts.iter().all(|p| !p.is_empty()));
            prop_assert_eq!(parts.concat(), data);
        }
    }
}
