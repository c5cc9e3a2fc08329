//! Typed values of the PFCP IEs the steering machines read (TS 29.244 section 8.2).
//!
//! Each type decodes a value only when the value is in the form this type emits again byte for
//! byte (spare bits zero, no octets beyond those its flags announce); any other value is kept as
//! [`super::Ie::Raw`] by the IE parser, so it survives parse and emit unchanged.

use super::{Field, Interface};
use crate::io::Reader;
use crate::steering::gtp::Apn;
use bytes::BufMut;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Reads an IPv6 address.
fn addr6(r: &mut Reader<'_>) -> Option<Ipv6Addr> {
    let b: [u8; 16] = r.bytes(16, Field::IeValue).ok()?.try_into().ok()?;
    Some(Ipv6Addr::from(b))
}

/// Reads an address when `present`; `Some(None)` when absent, `None` when short.
fn opt_addr4(r: &mut Reader<'_>, present: bool) -> Option<Option<Ipv4Addr>> {
    if present {
        r.addr(Field::IeValue).ok().map(Some)
    } else {
        Some(None)
    }
}

fn opt_addr6(r: &mut Reader<'_>, present: bool) -> Option<Option<Ipv6Addr>> {
    if present {
        addr6(r).map(Some)
    } else {
        Some(None)
    }
}

fn opt_u8(r: &mut Reader<'_>, present: bool) -> Option<Option<u8>> {
    if present {
        r.u8(Field::IeValue).ok().map(Some)
    } else {
        Some(None)
    }
}

fn put4(buf: &mut impl BufMut, a: Option<Ipv4Addr>) {
    if let Some(a) = a {
        buf.put_slice(&a.octets());
    }
}

fn put6(buf: &mut impl BufMut, a: Option<Ipv6Addr>) {
    if let Some(a) = a {
        buf.put_slice(&a.octets());
    }
}

fn len4(a: Option<Ipv4Addr>) -> usize {
    if a.is_some() { 4 } else { 0 }
}

fn len6(a: Option<Ipv6Addr>) -> usize {
    if a.is_some() { 16 } else { 0 }
}

/// `Some(v)` when the reader has been read to its end.
fn done<T>(r: &Reader<'_>, v: T) -> Option<T> {
    r.is_empty().then_some(v)
}

/// The Node ID IE (TS 29.244 section 8.2.38): an IPv4 address, an IPv6 address or an FQDN. The
/// type is the low four bits of the first octet; the high four are spare, sent as 0. The codec
/// reads a Node ID with them set as [`Ie::Raw`](super::Ie::Raw) (so it re-emits byte for byte);
/// [`Message::node_id_received`](super::Message::node_id_received) ignores them, as a receiver
/// does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeId<'a> {
    /// Node ID type 0.
    Ipv4(Ipv4Addr),
    /// Node ID type 1.
    Ipv6(Ipv6Addr),
    /// Node ID type 2: an FQDN in the label encoding of TS 23.003 section 9.1 (the encoding of an
    /// APN, hence [`Apn`]); never empty.
    Fqdn(Apn<'a>),
}

impl<'a> NodeId<'a> {
    pub(super) fn decode(v: &'a [u8]) -> Option<Self> {
        let (&t, rest) = v.split_first()?;
        let mut r = Reader::new(rest);
        let id = match t {
            0 => NodeId::Ipv4(r.addr(Field::IeValue).ok()?),
            1 => NodeId::Ipv6(addr6(&mut r)?),
            2 if !rest.is_empty() => return Some(NodeId::Fqdn(Apn(rest.into()))),
            _ => return None,
        };
        done(&r, id)
    }

    pub(super) fn value_len(&self) -> usize {
        1 + match self {
            NodeId::Ipv4(_) => 4,
            NodeId::Ipv6(_) => 16,
            NodeId::Fqdn(f) => f.0.len(),
        }
    }

    pub(super) fn is_valid(&self) -> bool {
        !matches!(self, NodeId::Fqdn(f) if f.0.is_empty())
    }

    pub(super) fn encode(&self, buf: &mut impl BufMut) {
        match self {
            NodeId::Ipv4(a) => {
                buf.put_u8(0);
                buf.put_slice(&a.octets());
            }
            NodeId::Ipv6(a) => {
                buf.put_u8(1);
                buf.put_slice(&a.octets());
            }
            NodeId::Fqdn(f) => {
                buf.put_u8(2);
                buf.put_slice(&f.0);
            }
        }
    }

    /// Detaches the value from the datagram it was parsed from.
    pub fn into_owned(self) -> NodeId<'static> {
        match self {
            NodeId::Ipv4(a) => NodeId::Ipv4(a),
            NodeId::Ipv6(a) => NodeId::Ipv6(a),
            NodeId::Fqdn(f) => NodeId::Fqdn(Apn(f.0.into_owned().into())),
        }
    }
}

/// The F-SEID IE (TS 29.244 section 8.2.37): a SEID and the IPv4 and/or IPv6 address of the
/// node that allocated it (flags V4 and V6 say which are present).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FSeid {
    /// The Session Endpoint Identifier.
    pub seid: u64,
    /// The IPv4 address (flag V4).
    pub ipv4: Option<Ipv4Addr>,
    /// The IPv6 address (flag V6).
    pub ipv6: Option<Ipv6Addr>,
}

impl FSeid {
    pub(super) fn decode(v: &[u8]) -> Option<Self> {
        let mut r = Reader::new(v);
        let flags = r.u8(Field::IeValue).ok()?;
        if flags & !0x03 != 0 {
            return None;
        }
        let seid = r.u64(Field::IeValue).ok()?;
        let ipv4 = opt_addr4(&mut r, flags & 0x02 != 0)?;
        let ipv6 = opt_addr6(&mut r, flags & 0x01 != 0)?;
        done(&r, FSeid { seid, ipv4, ipv6 })
    }

    pub(super) fn value_len(&self) -> usize {
        9 + len4(self.ipv4) + len6(self.ipv6)
    }

    pub(super) fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(u8::from(self.ipv4.is_some()) << 1 | u8::from(self.ipv6.is_some()));
        buf.put_u64(self.seid);
        put4(buf, self.ipv4);
        put6(buf, self.ipv6);
    }
}

/// The F-TEID IE (TS 29.244 section 8.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FTeid {
    /// CH = 0: a TEID and the IPv4 and/or IPv6 address it belongs to (flags V4 and V6).
    Assigned {
        /// The TEID.
        teid: u32,
        /// The IPv4 address (flag V4).
        ipv4: Option<Ipv4Addr>,
        /// The IPv6 address (flag V6).
        ipv6: Option<Ipv6Addr>,
    },
    /// CH = 1 (CHOOSE, set by the CP function only): the UP function allocates the F-TEID, with
    /// an IPv4 address if `ipv4` (flag V4) and an IPv6 address if `ipv6` (flag V6); no TEID or
    /// address follows. With CHID = 1, `choose_id` is the Choose ID: PDRs of the session that
    /// carry the same Choose ID get the same F-TEID.
    Choose {
        /// Flag V4: allocate an IPv4 address.
        ipv4: bool,
        /// Flag V6: allocate an IPv6 address.
        ipv6: bool,
        /// The Choose ID (flag CHID).
        choose_id: Option<u8>,
    },
}

impl FTeid {
    const V4: u8 = 0x01;
    const V6: u8 = 0x02;
    const CH: u8 = 0x04;
    const CHID: u8 = 0x08;

    pub(super) fn decode(v: &[u8]) -> Option<Self> {
        let mut r = Reader::new(v);
        let flags = r.u8(Field::FTeidFlags).ok()?;
        let (v4, v6) = (flags & Self::V4 != 0, flags & Self::V6 != 0);
        let f = match flags & 0xfc {
            0 => FTeid::Assigned {
                teid: r.u32(Field::IeValue).ok()?,
                ipv4: opt_addr4(&mut r, v4)?,
                ipv6: opt_addr6(&mut r, v6)?,
            },
            Self::CH => FTeid::Choose {
                ipv4: v4,
                ipv6: v6,
                choose_id: None,
            },
            0x0c => FTeid::Choose {
                ipv4: v4,
                ipv6: v6,
                choose_id: Some(r.u8(Field::IeValue).ok()?),
            },
            _ => return None,
        };
        done(&r, f)
    }

    /// The flags octet (V4, V6, CH, CHID).
    pub fn flags(&self) -> u8 {
        match *self {
            FTeid::Assigned { ipv4, ipv6, .. } => {
                u8::from(ipv4.is_some()) | u8::from(ipv6.is_some()) << 1
            }
            FTeid::Choose {
                ipv4,
                ipv6,
                choose_id,
            } => {
                u8::from(ipv4)
                    | u8::from(ipv6) << 1
                    | Self::CH
                    | if choose_id.is_some() { Self::CHID } else { 0 }
            }
        }
    }

    pub(super) fn value_len(&self) -> usize {
        1 + match *self {
            FTeid::Assigned { ipv4, ipv6, .. } => 4 + len4(ipv4) + len6(ipv6),
            FTeid::Choose { choose_id, .. } => usize::from(choose_id.is_some()),
        }
    }

    pub(super) fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.flags());
        match *self {
            FTeid::Assigned { teid, ipv4, ipv6 } => {
                buf.put_u32(teid);
                put4(buf, ipv4);
                put6(buf, ipv6);
            }
            FTeid::Choose { choose_id, .. } => {
                if let Some(id) = choose_id {
                    buf.put_u8(id);
                }
            }
        }
    }
}

/// The Apply Action IE (TS 29.244 section 8.2.26): flag bits, octet 5 in the low byte and (since
/// Release 16) octet 6 in the high byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplyAction {
    /// The flags ([`ApplyAction::DROP`], ...).
    pub flags: u16,
    /// Whether the value has the second octet (two octets long); when not, the high byte of
    /// `flags` must be 0.
    pub extended: bool,
}

impl ApplyAction {
    /// DROP: drop the packets.
    pub const DROP: u16 = 0x0001;
    /// FORW: forward the packets.
    pub const FORW: u16 = 0x0002;
    /// BUFF: buffer the packets.
    pub const BUFF: u16 = 0x0004;
    /// NOCP: notify the CP function of the first buffered downlink packet.
    pub const NOCP: u16 = 0x0008;
    /// DUPL: duplicate the packets.
    pub const DUPL: u16 = 0x0010;

    /// One octet of flags.
    pub fn new(flags: u8) -> Self {
        ApplyAction {
            flags: u16::from(flags),
            extended: false,
        }
    }

    /// Whether `flag` is set.
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag == flag
    }

    pub(super) fn decode(v: &[u8]) -> Option<Self> {
        match *v {
            [a] => Some(ApplyAction::new(a)),
            [a, b] => Some(ApplyAction {
                flags: u16::from_le_bytes([a, b]),
                extended: true,
            }),
            _ => None,
        }
    }

    pub(super) fn value_len(&self) -> usize {
        1 + usize::from(self.extended)
    }

    pub(super) fn is_valid(&self) -> bool {
        self.extended || self.flags <= 0xff
    }

    pub(super) fn encode(&self, buf: &mut impl BufMut) {
        let [a, b] = self.flags.to_le_bytes();
        buf.put_u8(a);
        if self.extended {
            buf.put_u8(b);
        }
    }
}

/// The UE IP Address IE (TS 29.244 section 8.2.62).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UeIpAddress {
    /// Flag S/D: the address is a destination address (downlink PDI), else a source address.
    pub destination: bool,
    /// The IPv4 address (flag V4).
    pub ipv4: Option<Ipv4Addr>,
    /// The IPv6 address or prefix (flag V6).
    pub ipv6: Option<Ipv6Addr>,
    /// Flag CHV4: the UP function is to allocate an IPv4 address.
    pub choose_ipv4: bool,
    /// Flag CHV6: the UP function is to allocate an IPv6 address.
    pub choose_ipv6: bool,
    /// The IPv6 Prefix Delegation Bits (flag IPv6D).
    pub ipv6_prefix_delegation_bits: Option<u8>,
    /// The IPv6 Prefix Length (flag IP6PL).
    pub ipv6_prefix_length: Option<u8>,
}

impl UeIpAddress {
    pub(super) fn decode(v: &[u8]) -> Option<Self> {
        let mut r = Reader::new(v);
        let f = r.u8(Field::IeValue).ok()?;
        if f & 0x80 != 0 {
            return None;
        }
        let u = UeIpAddress {
            destination: f & 0x04 != 0,
            ipv4: opt_addr4(&mut r, f & 0x02 != 0)?,
            ipv6: opt_addr6(&mut r, f & 0x01 != 0)?,
            choose_ipv4: f & 0x10 != 0,
            choose_ipv6: f & 0x20 != 0,
            ipv6_prefix_delegation_bits: opt_u8(&mut r, f & 0x08 != 0)?,
            ipv6_prefix_length: opt_u8(&mut r, f & 0x40 != 0)?,
        };
        done(&r, u)
    }

    /// The flags octet.
    pub fn flags(&self) -> u8 {
        u8::from(self.ipv6.is_some())
            | u8::from(self.ipv4.is_some()) << 1
            | u8::from(self.destination) << 2
            | u8::from(self.ipv6_prefix_delegation_bits.is_some()) << 3
            | u8::from(self.choose_ipv4) << 4
            | u8::from(self.choose_ipv6) << 5
            | u8::from(self.ipv6_prefix_length.is_some()) << 6
    }

    pub(super) fn value_len(&self) -> usize {
        1 + len4(self.ipv4)
            + len6(self.ipv6)
            + usize::from(self.ipv6_prefix_delegation_bits.is_some())
            + usize::from(self.ipv6_prefix_length.is_some())
    }

    pub(super) fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.flags());
        put4(buf, self.ipv4);
        put6(buf, self.ipv6);
        if let Some(b) = self.ipv6_prefix_delegation_bits {
            buf.put_u8(b);
        }
        if let Some(b) = self.ipv6_prefix_length {
            buf.put_u8(b);
        }
    }
}

/// The Outer Header Creation IE (TS 29.244 section 8.2.56): the description (octet 5 in the high
/// byte, octet 6 in the low byte) and the fields it announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OuterHeaderCreation {
    /// The Outer Header Creation Description ([`OuterHeaderCreation::GTPU_UDP_IPV4`], ...).
    pub description: u16,
    /// The TEID (GTP-U/UDP/IPv4 or GTP-U/UDP/IPv6).
    pub teid: Option<u32>,
    /// The IPv4 address (GTP-U/UDP/IPv4, UDP/IPv4 or IPv4).
    pub ipv4: Option<Ipv4Addr>,
    /// The IPv6 address (GTP-U/UDP/IPv6, UDP/IPv6 or IPv6).
    pub ipv6: Option<Ipv6Addr>,
    /// The UDP port number (UDP/IPv4 or UDP/IPv6).
    pub port: Option<u16>,
    /// The C-TAG (three octets).
    pub c_tag: Option<[u8; 3]>,
    /// The S-TAG (three octets).
    pub s_tag: Option<[u8; 3]>,
}

impl OuterHeaderCreation {
    /// GTP-U/UDP/IPv4.
    pub const GTPU_UDP_IPV4: u16 = 0x0100;
    /// GTP-U/UDP/IPv6.
    pub const GTPU_UDP_IPV6: u16 = 0x0200;
    /// UDP/IPv4.
    pub const UDP_IPV4: u16 = 0x0400;
    /// UDP/IPv6.
    pub const UDP_IPV6: u16 = 0x0800;
    /// IPv4.
    pub const IPV4: u16 = 0x1000;
    /// IPv6.
    pub const IPV6: u16 = 0x2000;
    /// C-TAG.
    pub const C_TAG: u16 = 0x4000;
    /// S-TAG.
    pub const S_TAG: u16 = 0x8000;
    const TEID_BITS: u16 = 0x0300;
    const V4_BITS: u16 = 0x1500;
    const V6_BITS: u16 = 0x2a00;
    const PORT_BITS: u16 = 0x0c00;

    /// GTP-U/UDP/IPv4 towards `teid` at `addr`: the usual downlink or uplink tunnel.
    pub fn gtpu_ipv4(teid: u32, addr: Ipv4Addr) -> Self {
        OuterHeaderCreation {
            description: Self::GTPU_UDP_IPV4,
            teid: Some(teid),
            ipv4: Some(addr),
            ipv6: None,
            port: None,
            c_tag: None,
            s_tag: None,
        }
    }

    fn wants(&self, bits: u16) -> bool {
        self.description & bits != 0
    }

    pub(super) fn decode(v: &[u8]) -> Option<Self> {
        let mut r = Reader::new(v);
        let d = r.u16(Field::OuterHeaderCreationDescription).ok()?;
        let mut o = OuterHeaderCreation {
            description: d,
            teid: None,
            ipv4: None,
            ipv6: None,
            port: None,
            c_tag: None,
            s_tag: None,
        };
        if o.wants(Self::TEID_BITS) {
            o.teid = Some(r.u32(Field::IeValue).ok()?);
        }
        o.ipv4 = opt_addr4(&mut r, o.wants(Self::V4_BITS))?;
        o.ipv6 = opt_addr6(&mut r, o.wants(Self::V6_BITS))?;
        if o.wants(Self::PORT_BITS) {
            o.port = Some(r.u16(Field::IeValue).ok()?);
        }
        let mut tag = |bit| -> Option<Option<[u8; 3]>> {
            if d & bit == 0 {
                return Some(None);
            }
            r.bytes(3, Field::IeValue).ok()?.try_into().ok().map(Some)
        };
        o.c_tag = tag(Self::C_TAG)?;
        o.s_tag = tag(Self::S_TAG)?;
        done(&r, o)
    }

    /// Whether the fields present are exactly those the description announces.
    pub(super) fn is_valid(&self) -> bool {
        let present = [
            self.teid.is_some(),
            self.ipv4.is_some(),
            self.ipv6.is_some(),
            self.port.is_some(),
            self.c_tag.is_some(),
            self.s_tag.is_some(),
        ];
        let announced = [
            Self::TEID_BITS,
            Self::V4_BITS,
            Self::V6_BITS,
            Self::PORT_BITS,
            Self::C_TAG,
            Self::S_TAG,
        ]
        .map(|bits| self.wants(bits));
        present == announced
    }

    pub(super) fn value_len(&self) -> usize {
        2 + 4 * usize::from(self.teid.is_some())
            + len4(self.ipv4)
            + len6(self.ipv6)
            + 2 * usize::from(self.port.is_some())
            + 3 * usize::from(self.c_tag.is_some())
            + 3 * usize::from(self.s_tag.is_some())
    }

    pub(super) fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u16(self.description);
        if let Some(t) = self.teid {
            buf.put_u32(t);
        }
        put4(buf, self.ipv4);
        put6(buf, self.ipv6);
        if let Some(p) = self.port {
            buf.put_u16(p);
        }
        for t in [self.c_tag, self.s_tag].into_iter().flatten() {
            buf.put_slice(&t);
        }
    }
}

/// Decodes the Source Interface / Destination Interface octet (spare high nibble zero).
pub(super) fn interface(v: &[u8]) -> Option<Interface> {
    match *v {
        [b] if b & 0xf0 == 0 => Some(Interface(b)),
        _ => None,
    }
}
