//! The L2TPv2 header (RFC 2661 section 3.1).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
//! |           Tunnel ID           |           Session ID          |
//! |             Ns (opt)          |             Nr (opt)          |
//! |      Offset Size (opt)        |    Offset pad... (opt)
//! ```
//!
//! Control messages (T=1) must have L=1 and S=1 and O=0 (and P=0); anything else is refused with
//! [`WireError::BadHeader`]. The version must be 2: 3 (L2TPv3 over UDP, RFC 3931) is recognised and
//! refused with [`WireError::UnsupportedVersion`], as is every other value. Reserved bits are
//! ignored on receipt and sent as 0.

use super::{Field, HeaderRule, WireError};
use crate::io::Reader;
use bytes::BufMut;
use std::borrow::Cow;

/// T bit: control message.
pub const FLAG_TYPE: u16 = 0x8000;
/// L bit: Length field present.
pub const FLAG_LENGTH: u16 = 0x4000;
/// S bit: Ns and Nr present.
pub const FLAG_SEQUENCE: u16 = 0x0800;
/// O bit: Offset Size present.
pub const FLAG_OFFSET: u16 = 0x0200;
/// P bit: priority (data messages).
pub const FLAG_PRIORITY: u16 = 0x0100;
/// The version nibble.
pub const VERSION_MASK: u16 = 0x000f;
/// L2TPv2.
pub const VERSION_2: u16 = 2;
/// L2TPv3 (RFC 3931) over UDP: recognised, refused.
pub const VERSION_3: u16 = 3;
/// Length of a control message header.
pub const CONTROL_HEADER_LEN: usize = 12;

/// The header of a control message (T=L=S=1, O=P=0). The Length field is computed when emitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ControlHeader {
    /// Tunnel ID: the receiver's identifier of the tunnel (0 in an SCCRQ).
    pub tunnel_id: u16,
    /// Session ID: the receiver's identifier of the session (0 for tunnel messages).
    pub session_id: u16,
    /// Sequence number of this message (not incremented by a ZLB).
    pub ns: u16,
    /// Next sequence number expected from the peer.
    pub nr: u16,
}

/// The header of a data message, every optional field kept as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DataHeader<'a> {
    /// L bit: carry the Length field.
    pub with_length: bool,
    /// P bit: the message should be preferentially treated.
    pub priority: bool,
    /// Tunnel ID.
    pub tunnel_id: u16,
    /// Session ID.
    pub session_id: u16,
    /// Ns and Nr when S=1.
    pub sequence: Option<(u16, u16)>,
    /// Offset padding when O=1 (Offset Size is its length).
    pub offset_pad: Option<Cow<'a, [u8]>>,
}

impl DataHeader<'_> {
    /// Octets this header takes on the wire.
    pub fn encoded_len(&self) -> usize {
        2 + if self.with_length { 2 } else { 0 }
            + 4
            + if self.sequence.is_some() { 4 } else { 0 }
            + self.offset_pad.as_ref().map_or(0, |p| 2 + p.len())
    }

    /// An owned copy.
    pub fn into_owned(self) -> DataHeader<'static> {
        DataHeader {
            with_length: self.with_length,
            priority: self.priority,
            tunnel_id: self.tunnel_id,
            session_id: self.session_id,
            sequence: self.sequence,
            offset_pad: self.offset_pad.map(|p| Cow::Owned(p.into_owned())),
        }
    }

    /// Writes the header; `total_len` is the length of the whole message.
    pub(crate) fn emit(&self, total_len: usize, out: &mut impl BufMut) {
        let mut flags = VERSION_2;
        if self.with_length {
            flags |= FLAG_LENGTH;
        }
        if self.priority {
            flags |= FLAG_PRIORITY;
        }
        if self.sequence.is_some() {
            flags |= FLAG_SEQUENCE;
        }
        if self.offset_pad.is_some() {
            flags |= FLAG_OFFSET;
        }
        out.put_u16(flags);
        if self.with_length {
            out.put_u16(u16::try_from(total_len).unwrap_or(u16::MAX));
        }
        out.put_u16(self.tunnel_id);
        out.put_u16(self.session_id);
        if let Some((ns, nr)) = self.sequence {
            out.put_u16(ns);
            out.put_u16(nr);
        }
        if let Some(pad) = &self.offset_pad {
            out.put_u16(u16::try_from(pad.len()).unwrap_or(u16::MAX));
            out.put_slice(pad);
        }
    }
}

impl ControlHeader {
    /// Writes the header; `total_len` is the length of the whole message.
    // Inlined into each message's writer (six stores; a call of its own costs as much, and
    // whether the compiler inlines it moved with unrelated changes to the channel).
    #[inline(always)]
    pub(crate) fn emit(&self, total_len: usize, out: &mut impl BufMut) {
        // One write of the twelve octets: six `put_u16` cost a capacity check and an advance
        // each (a ZLB is this header alone: the ZLB acknowledging a CDN, on every redirect).
        let words = [
            FLAG_TYPE | FLAG_LENGTH | FLAG_SEQUENCE | VERSION_2,
            u16::try_from(total_len).unwrap_or(u16::MAX),
            self.tunnel_id,
            self.session_id,
            self.ns,
            self.nr,
        ];
        let mut b = [0u8; CONTROL_HEADER_LEN];
        for (o, w) in b.chunks_exact_mut(2).zip(words) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out.put_slice(&b);
    }
}

/// What [`parse_header`] found.
pub(crate) enum ParsedHeader<'a> {
    Control(ControlHeader, Reader<'a>),
    Data(DataHeader<'a>, Reader<'a>),
}

/// Reads the first two octets only: is this a control message, and which version. Cheap enough for
/// a demultiplexer.
pub fn peek_flags(data: &[u8]) -> Result<(bool, u16), WireError> {
    let mut c = Reader::at(data, 0);
    let flags = c.u16(Field::Flags)?;
    Ok((flags & FLAG_TYPE != 0, flags & VERSION_MASK))
}

/// Reads the tunnel id of an L2TPv2 message (control or data) without a full parse.
pub fn peek_tunnel_id(data: &[u8]) -> Result<u16, WireError> {
    // Read from the octets at once when the six first are there and the version is 2 (every
    // datagram a tunnel takes, twice per redirect decision); the reader below
    // otherwise, which names the error.
    if let Some(&[f0, f1, a0, a1, b0, b1]) = data.get(..6) {
        let flags = u16::from_be_bytes([f0, f1]);
        if flags & VERSION_MASK == VERSION_2 {
            let id = if flags & FLAG_LENGTH != 0 {
                [b0, b1]
            } else {
                [a0, a1]
            };
            return Ok(u16::from_be_bytes(id));
        }
    }
    peek_tunnel_id_read(data)
}

/// [`peek_tunnel_id`] field by field.
#[cold]
#[inline(never)]
fn peek_tunnel_id_read(data: &[u8]) -> Result<u16, WireError> {
    let mut c = Reader::at(data, 0);
    let flags = c.u16(Field::Flags)?;
    check_version(flags)?;
    if flags & FLAG_LENGTH != 0 {
        c.u16(Field::Length)?;
    }
    Ok(c.u16(Field::TunnelId)?)
}

fn check_version(flags: u16) -> Result<(), WireError> {
    let version = flags & VERSION_MASK;
    if version != VERSION_2 {
        return Err(WireError::UnsupportedVersion {
            offset: 1,
            version: version as u8,
        });
    }
    Ok(())
}

pub(crate) fn parse_header(data: &[u8]) -> Result<ParsedHeader<'_>, WireError> {
    // A control header as RFC 2661 3.1 has it (T=L=S=1, O=P=0, version 2) whose Length is the
    // datagram's: read from the octets at once. Anything else below, where each rule is checked
    // and named.
    if let Some(&[f0, f1, l0, l1, t0, t1, s0, s1, n0, n1, r0, r1]) = data.get(..CONTROL_HEADER_LEN)
    {
        let flags = u16::from_be_bytes([f0, f1]);
        let rules = FLAG_TYPE | FLAG_LENGTH | FLAG_SEQUENCE | FLAG_OFFSET | FLAG_PRIORITY;
        if flags & (rules | VERSION_MASK) == FLAG_TYPE | FLAG_LENGTH | FLAG_SEQUENCE | VERSION_2
            && usize::from(u16::from_be_bytes([l0, l1])) == data.len()
        {
            let header = ControlHeader {
                tunnel_id: u16::from_be_bytes([t0, t1]),
                session_id: u16::from_be_bytes([s0, s1]),
                ns: u16::from_be_bytes([n0, n1]),
                nr: u16::from_be_bytes([r0, r1]),
            };
            let rest = data.get(CONTROL_HEADER_LEN..).unwrap_or_default();
            return Ok(ParsedHeader::Control(
                header,
                Reader::at(rest, CONTROL_HEADER_LEN),
            ));
        }
    }
    parse_header_rules(data)
}

/// [`parse_header`] rule by rule: each field read and each rule checked in order, the first
/// broken one named.
fn parse_header_rules(data: &[u8]) -> Result<ParsedHeader<'_>, WireError> {
    let mut c = Reader::at(data, 0);
    let flags = c.u16(Field::Flags)?;
    check_version(flags)?;
    let bad = |field| WireError::BadHeader { offset: 0, field };
    let check_len = |len: u16| {
        if usize::from(len) != data.len() {
            Err(WireError::BadLength {
                offset: 2,
                field: Field::Length,
                declared: usize::from(len),
                actual: data.len(),
            })
        } else {
            Ok(())
        }
    };
    if flags & FLAG_TYPE != 0 {
        if flags & FLAG_LENGTH == 0 {
            return Err(bad(HeaderRule::ControlWithoutLength));
        }
        if flags & FLAG_SEQUENCE == 0 {
            return Err(bad(HeaderRule::ControlWithoutSequence));
        }
        if flags & FLAG_OFFSET != 0 {
            return Err(bad(HeaderRule::ControlWithOffset));
        }
        if flags & FLAG_PRIORITY != 0 {
            return Err(bad(HeaderRule::ControlWithPriority));
        }
        let len = c.u16(Field::Length)?;
        let tunnel_id = c.u16(Field::TunnelId)?;
        let session_id = c.u16(Field::SessionId)?;
        let ns = c.u16(Field::Ns)?;
        let nr = c.u16(Field::Nr)?;
        check_len(len)?;
        Ok(ParsedHeader::Control(
            ControlHeader {
                tunnel_id,
                session_id,
                ns,
                nr,
            },
            c,
        ))
    } else {
        let with_length = flags & FLAG_LENGTH != 0;
        if with_length {
            let len = c.u16(Field::Length)?;
            check_len(len)?;
        }
        let tunnel_id = c.u16(Field::TunnelId)?;
        let session_id = c.u16(Field::SessionId)?;
        let sequence = if flags & FLAG_SEQUENCE != 0 {
            Some((c.u16(Field::Ns)?, c.u16(Field::Nr)?))
        } else {
            None
        };
        let offset_pad = if flags & FLAG_OFFSET != 0 {
            let size = c.u16(Field::OffsetSize)?;
            Some(Cow::Borrowed(c.bytes(usize::from(size), Field::OffsetPad)?))
        } else {
            None
        };
        Ok(ParsedHeader::Data(
            DataHeader {
                with_length,
                priority: flags & FLAG_PRIORITY != 0,
                tunnel_id,
                session_id,
                sequence,
                offset_pad,
            },
            c,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a parsed header says: the header, and where the rest starts and what it holds.
    fn seen(r: Result<ParsedHeader<'_>, WireError>) -> String {
        match r {
            Ok(ParsedHeader::Control(h, c)) => format!("C {h:?} {} {:?}", c.offset(), c.rest()),
            Ok(ParsedHeader::Data(h, c)) => format!("D {h:?} {} {:?}", c.offset(), c.rest()),
            Err(e) => format!("E {e:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The tunnel id read from the octets at once is the reader's (`peek_tunnel_id`), on
        /// any octets: version 2 or not, with or without Length, short or long.
        #[test]
        fn peeked_tunnel_id_is_the_readers(
            flags in prop_oneof![Just(0xc802u16), Just(0x0002), Just(0x4002), any::<u16>()],
            rest in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let mut d = flags.to_be_bytes().to_vec();
            d.extend_from_slice(&rest);
            for n in 0..=d.len() {
                let d = &d[..n];
                prop_assert_eq!(peek_tunnel_id(d), peek_tunnel_id_read(d));
            }
        }

        /// A control header is written in one copy of its twelve octets (`ControlHeader::emit`):
        /// the octets the six big-endian fields written one by one give, whatever the ids,
        /// sequence numbers and length (a length beyond 65535 written as 65535).
        #[test]
        fn control_header_written_at_once_is_field_by_field(
            tunnel_id in any::<u16>(),
            session_id in any::<u16>(),
            ns in any::<u16>(),
            nr in any::<u16>(),
            total_len in prop_oneof![12..100usize, any::<usize>()],
        ) {
            let h = ControlHeader { tunnel_id, session_id, ns, nr };
            let mut at_once = bytes::BytesMut::new();
            h.emit(total_len, &mut at_once);
            let mut by_field = Vec::new();
            for w in [
                FLAG_TYPE | FLAG_LENGTH | FLAG_SEQUENCE | VERSION_2,
                u16::try_from(total_len).unwrap_or(u16::MAX),
                tunnel_id,
                session_id,
                ns,
                nr,
            ] {
                by_field.extend_from_slice(&w.to_be_bytes());
            }
            prop_assert_eq!(&at_once[..], &by_field[..]);
        }

        /// The direct read of a well-formed control header gives what the rule-by-rule parse
        /// gives, on any octets: headers near the control one (flags, version and length
        /// varied), and arbitrary ones.
        #[test]
        fn direct_control_header_is_the_rules(
            flags in prop_oneof![Just(0xc802u16), any::<u16>(), (0..16u16).prop_map(|b| 0xc802 ^ (1 << b))],
            len_delta in prop_oneof![Just(0i32), -3..3i32],
            body in proptest::collection::vec(any::<u8>(), 0..40),
            cut in prop_oneof![Just(0usize), 0..14usize],
        ) {
            let mut d = flags.to_be_bytes().to_vec();
            let total = (body.len() + 4) as i32 + len_delta;
            d.extend_from_slice(&(total.clamp(0, 0xffff) as u16).to_be_bytes());
            d.extend_from_slice(&body);
            d.truncate(d.len().saturating_sub(cut));
            prop_assert_eq!(seen(parse_header(&d)), seen(parse_header_rules(&d)));
        }
    }
}
