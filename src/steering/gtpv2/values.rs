//! Typed values of GTPv2-C information elements (TS 29.274 section 8).
//!
//! Each `decode` takes the whole value part of an IE and returns `None` unless the value has
//! exactly the layout modelled here; the IE is then kept raw (see [`super::IeValue::Raw`]).

use super::{CauseValue, Field, IeType, InterfaceType};
use crate::io::Reader;
use arrayvec::ArrayString;
use bytes::BufMut;
use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Largest value of the 40-bit bit rates of the Bearer QoS IE (TS 29.274 section 8.15).
pub const MAX_BIT_RATE: u64 = (1 << 40) - 1;

fn reader(v: &[u8]) -> Reader<'_> {
    Reader::new(v)
}

fn v6(r: &mut Reader<'_>) -> Option<Ipv6Addr> {
    let o: [u8; 16] = r.bytes(16, Field::IeValue).ok()?.try_into().ok()?;
    Some(Ipv6Addr::from(o))
}

/// Digits in TBCD (TS 29.274 sections 8.3 and 8.11, TS 29.002): two per octet, the first in the
/// low nibble, an odd count padded with `0xF`. Used by the IMSI and MSISDN IEs; any octets are
/// kept as received.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Tbcd<'a>(pub Cow<'a, [u8]>);

impl Tbcd<'static> {
    /// Encodes decimal digits; `None` if `digits` is empty, longer than 16 or not decimal.
    pub fn from_digits(digits: &str) -> Option<Self> {
        let d = digits.as_bytes();
        if d.is_empty() || d.len() > 16 || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let out = d
            .chunks(2)
            .map(|p| {
                let lo = p.first().map_or(0x0f, |c| c - b'0');
                let hi = p.get(1).map_or(0x0f, |c| c - b'0');
                (hi << 4) | lo
            })
            .collect();
        Some(Tbcd(Cow::Owned(out)))
    }
}

impl Tbcd<'_> {
    /// The decimal digits, stopping at the first filler nibble (other non-decimal nibbles are
    /// skipped).
    pub fn digits(&self) -> ArrayString<64> {
        let mut s = ArrayString::new();
        for b in self.0.iter() {
            for nib in [b & 0x0f, b >> 4] {
                if nib == 0x0f {
                    return s;
                }
                if nib < 10 {
                    let _ = s.try_push(char::from(b'0' + nib));
                }
            }
        }
        s
    }

    /// Detaches the digits from the datagram they were parsed from.
    pub fn into_owned(self) -> Tbcd<'static> {
        Tbcd(Cow::Owned(self.0.into_owned()))
    }
}

impl std::fmt::Debug for Tbcd<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tbcd({})", self.digits())
    }
}

/// A PLMN identity, MCC and MNC in three TBCD octets (TS 29.274 section 8.18, TS 24.008 section
/// 10.5.1.13): MCC digit 2|1, MNC digit 3|MCC digit 3, MNC digit 2|1; MNC digit 3 is `0xF` for a
/// two-digit MNC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlmnId(pub [u8; 3]);

impl PlmnId {
    /// Encodes a three-digit MCC and a two- or three-digit MNC; `None` if they are not so.
    pub fn new(mcc: &str, mnc: &str) -> Option<Self> {
        fn nibbles(s: &str) -> Option<Vec<u8>> {
            s.bytes()
                .map(|c| c.is_ascii_digit().then(|| c - b'0'))
                .collect()
        }
        let (m, n) = (nibbles(mcc)?, nibbles(mnc)?);
        match (m.as_slice(), n.as_slice()) {
            ([m1, m2, m3], [n1, n2]) => Some(PlmnId([(m2 << 4) | m1, 0xf0 | m3, (n2 << 4) | n1])),
            ([m1, m2, m3], [n1, n2, n3]) => {
                Some(PlmnId([(m2 << 4) | m1, (n3 << 4) | m3, (n2 << 4) | n1]))
            }
            _ => None,
        }
    }

    fn digits(nibbles: [u8; 3]) -> ArrayString<3> {
        let mut s = ArrayString::new();
        for n in nibbles.into_iter().filter(|n| *n < 10) {
            let _ = s.try_push(char::from(b'0' + n));
        }
        s
    }

    /// The Mobile Country Code digits.
    pub fn mcc(&self) -> ArrayString<3> {
        let [a, b, _] = self.0;
        Self::digits([a & 0x0f, a >> 4, b & 0x0f])
    }

    /// The Mobile Network Code digits (two or three).
    pub fn mnc(&self) -> ArrayString<3> {
        let [_, b, c] = self.0;
        Self::digits([c & 0x0f, c >> 4, b >> 4])
    }

    fn read(r: &mut Reader<'_>) -> Option<Self> {
        Some(PlmnId(r.bytes(3, Field::IeValue).ok()?.try_into().ok()?))
    }
}

/// The offending IE carried at the end of a Cause IE (TS 29.274 section 8.4): its type, its
/// length field (sent as 0) and its spare/instance octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OffendingIe {
    /// Type of the offending IE.
    pub ie_type: IeType,
    /// The length octets (0 when sent by a node of TS 29.274 Rel-8 or later).
    pub length: u16,
    /// Spare bits (high nibble) and instance (low nibble) of the offending IE.
    pub instance: u8,
}

/// The Cause IE (TS 29.274 section 8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cause {
    /// The cause value.
    pub value: CauseValue,
    /// The octet holding five spare bits and the PCE (bit 3), BCE (bit 2) and CS (bit 1) flags.
    pub flags: u8,
    /// The offending IE, when the cause names one.
    pub offending: Option<OffendingIe>,
}

impl Cause {
    /// A cause without flags or offending IE.
    pub fn new(value: CauseValue) -> Self {
        Cause {
            value,
            flags: 0,
            offending: None,
        }
    }

    /// PDN Connection IE Error: the offending IE is inside a PDN Connection IE.
    pub fn pce(&self) -> bool {
        self.flags & 0x04 != 0
    }

    /// Bearer Context IE Error: the offending IE is inside a Bearer Context IE.
    pub fn bce(&self) -> bool {
        self.flags & 0x02 != 0
    }

    /// Cause Source: the error originated in the remote node, not the sender.
    pub fn cs(&self) -> bool {
        self.flags & 0x01 != 0
    }

    pub(crate) fn decode(v: &[u8]) -> Option<Self> {
        let mut r = reader(v);
        let value = CauseValue(r.u8(Field::IeValue).ok()?);
        let flags = r.u8(Field::IeValue).ok()?;
        let offending = match r.remaining() {
            0 => None,
            4 => Some(OffendingIe {
                ie_type: IeType(r.u8(Field::IeValue).ok()?),
                length: r.u16(Field::IeValue).ok()?,
                instance: r.u8(Field::IeValue).ok()?,
            }),
            _ => return None,
        };
        Some(Cause {
            value,
            flags,
            offending,
        })
    }

    pub(crate) fn value_len(&self) -> usize {
        if self.offending.is_some() { 6 } else { 2 }
    }

    pub(crate) fn emit(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.value.0);
        buf.put_u8(self.flags);
        if let Some(o) = self.offending {
            buf.put_u8(o.ie_type.0);
            buf.put_u16(o.length);
            buf.put_u8(o.instance);
        }
    }
}

/// The Aggregate Maximum Bit Rate IE (TS 29.274 section 8.7), in kbps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ambr {
    /// APN-AMBR for uplink.
    pub uplink: u32,
    /// APN-AMBR for downlink.
    pub downlink: u32,
}

impl Ambr {
    pub(crate) fn decode(v: &[u8]) -> Option<Self> {
        let mut r = reader(v);
        let a = Ambr {
            uplink: r.u32(Field::IeValue).ok()?,
            downlink: r.u32(Field::IeValue).ok()?,
        };
        r.is_empty().then_some(a)
    }
}

/// The PDN Address Allocation IE (TS 29.274 section 8.14) of an IP PDN type: the PDN type octet
/// (spare bits zero) and the address(es). Other PDN types are kept raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Paa {
    /// PDN type 1: an IPv4 address (0.0.0.0 asks for one).
    Ipv4(Ipv4Addr),
    /// PDN type 2: IPv6 prefix length and address.
    Ipv6 {
        /// The prefix length.
        prefix_len: u8,
        /// The IPv6 prefix and interface identifier.
        addr: Ipv6Addr,
    },
    /// PDN type 3: IPv6 prefix length and address, then an IPv4 address.
    Ipv4v6 {
        /// The prefix length.
        prefix_len: u8,
        /// The IPv6 prefix and interface identifier.
        ipv6: Ipv6Addr,
        /// The IPv4 address.
        ipv4: Ipv4Addr,
    },
}

impl Paa {
    /// The PDN type (1 IPv4, 2 IPv6, 3 IPv4v6; TS 29.274 section 8.34).
    pub fn pdn_type(&self) -> u8 {
        match self {
            Paa::Ipv4(_) => 1,
            Paa::Ipv6 { .. } => 2,
            Paa::Ipv4v6 { .. } => 3,
        }
    }

    pub(crate) fn decode(v: &[u8]) -> Option<Self> {
        let mut r = reader(v);
        let p = match r.u8(Field::IeValue).ok()? {
            1 => Paa::Ipv4(r.addr(Field::IeValue).ok()?),
            2 => Paa::Ipv6 {
                prefix_len: r.u8(Field::IeValue).ok()?,
                addr: v6(&mut r)?,
            },
            3 => Paa::Ipv4v6 {
                prefix_len: r.u8(Field::IeValue).ok()?,
                ipv6: v6(&mut r)?,
                ipv4: r.addr(Field::IeValue).ok()?,
            },
            _ => return None,
        };
        r.is_empty().then_some(p)
    }

    pub(crate) fn value_len(&self) -> usize {
        match self {
            Paa::Ipv4(_) => 5,
            Paa::Ipv6 { .. } => 18,
            Paa::Ipv4v6 { .. } => 22,
        }
    }

    pub(crate) fn emit(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.pdn_type());
        match self {
            Paa::Ipv4(a) => buf.put_slice(&a.octets()),
            Paa::Ipv6 { prefix_len, addr } => {
                buf.put_u8(*prefix_len);
                buf.put_slice(&addr.octets());
            }
            Paa::Ipv4v6 {
                prefix_len,
                ipv6,
                ipv4,
            } => {
                buf.put_u8(*prefix_len);
                buf.put_slice(&ipv6.octets());
                buf.put_slice(&ipv4.octets());
            }
        }
    }
}

/// The Bearer Level Quality of Service IE (TS 29.274 section 8.15): ARP octet, QCI and the four
/// 40-bit bit rates in kbps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BearerQos {
    /// The octet holding spare (bit 8), PCI (bit 7), PL (bits 6-3), spare (bit 2), PVI (bit 1).
    pub arp: u8,
    /// The QoS Class Identifier.
    pub qci: u8,
    /// Maximum bit rate for uplink (at most [`MAX_BIT_RATE`]).
    pub mbr_uplink: u64,
    /// Maximum bit rate for downlink.
    pub mbr_downlink: u64,
    /// Guaranteed bit rate for uplink.
    pub gbr_uplink: u64,
    /// Guaranteed bit rate for downlink.
    pub gbr_downlink: u64,
}

impl BearerQos {
    /// Pre-emption Capability bit (1: the bearer may not pre-empt others).
    pub fn pci(&self) -> bool {
        self.arp & 0x40 != 0
    }

    /// Priority Level (1 highest to 15).
    pub fn pl(&self) -> u8 {
        (self.arp >> 2) & 0x0f
    }

    /// Pre-emption Vulnerability bit (1: the bearer may not be pre-empted).
    pub fn pvi(&self) -> bool {
        self.arp & 0x01 != 0
    }

    fn rates(&self) -> [u64; 4] {
        [
            self.mbr_uplink,
            self.mbr_downlink,
            self.gbr_uplink,
            self.gbr_downlink,
        ]
    }

    pub(crate) fn in_range(&self) -> bool {
        self.rates().iter().all(|r| *r <= MAX_BIT_RATE)
    }

    pub(crate) fn decode(v: &[u8]) -> Option<Self> {
        let mut r = reader(v);
        let arp = r.u8(Field::IeValue).ok()?;
        let qci = r.u8(Field::IeValue).ok()?;
        let mut rate = || -> Option<u64> {
            let b = r.bytes(5, Field::IeValue).ok()?;
            Some(b.iter().fold(0, |a, &x| (a << 8) | u64::from(x)))
        };
        let q = BearerQos {
            arp,
            qci,
            mbr_uplink: rate()?,
            mbr_downlink: rate()?,
            gbr_uplink: rate()?,
            gbr_downlink: rate()?,
        };
        r.is_empty().then_some(q)
    }

    pub(crate) fn emit(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.arp);
        buf.put_u8(self.qci);
        for r in self.rates() {
            buf.put_slice(r.to_be_bytes().get(3..).unwrap_or(&[]));
        }
    }
}

/// A Tracking Area Identity (TS 29.274 section 8.21.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tai {
    /// The PLMN.
    pub plmn: PlmnId,
    /// Tracking Area Code.
    pub tac: u16,
}

/// An E-UTRAN Cell Global Identifier (TS 29.274 section 8.21.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ecgi {
    /// The PLMN.
    pub plmn: PlmnId,
    /// The four octets holding four spare bits and the 28-bit E-UTRAN Cell Identifier.
    pub eci: u32,
}

/// The User Location Information IE (TS 29.274 section 8.21): the flags octet and the parts it
/// announces, kept as bytes; [`Uli::tai`] and [`Uli::ecgi`] read the two parts an E-UTRAN
/// attach carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uli<'a> {
    /// Flags: Extended Macro eNodeB ID (bit 8), Macro eNodeB ID, LAI, ECGI, TAI, RAI, SAI, CGI
    /// (bit 1).
    pub flags: u8,
    /// The parts in flag order (CGI, SAI, RAI, TAI, ECGI, LAI, Macro eNB ID, Extended Macro eNB
    /// ID), as received.
    pub parts: Cow<'a, [u8]>,
}

/// Lengths of the ULI parts, in flag-bit order from bit 1.
const ULI_PARTS: [usize; 8] = [7, 7, 7, 5, 7, 5, 6, 6];

impl Uli<'static> {
    /// A ULI of a TAI and an ECGI, the usual E-UTRAN pair.
    pub fn eutran(tai: Tai, ecgi: Ecgi) -> Self {
        let mut parts = Vec::with_capacity(12);
        parts.extend_from_slice(&tai.plmn.0);
        parts.put_u16(tai.tac);
        parts.extend_from_slice(&ecgi.plmn.0);
        parts.put_u32(ecgi.eci);
        Uli {
            flags: 0x18,
            parts: Cow::Owned(parts),
        }
    }
}

impl Uli<'_> {
    /// A reader at the part of flag bit `bit` (0 = CGI), if present.
    fn part(&self, bit: usize) -> Option<Reader<'_>> {
        if self.flags & (1 << bit) == 0 {
            return None;
        }
        let skip: usize = ULI_PARTS
            .iter()
            .take(bit)
            .enumerate()
            .filter(|(i, _)| self.flags & (1 << i) != 0)
            .map(|(_, l)| l)
            .sum();
        let mut r = reader(&self.parts);
        r.bytes(skip, Field::IeValue).ok()?;
        Some(r)
    }

    /// The Tracking Area Identity, when the TAI flag is set and its part is there.
    pub fn tai(&self) -> Option<Tai> {
        let mut r = self.part(3)?;
        Some(Tai {
            plmn: PlmnId::read(&mut r)?,
            tac: r.u16(Field::IeValue).ok()?,
        })
    }

    /// The E-UTRAN Cell Global Identifier, when the ECGI flag is set and its part is there.
    pub fn ecgi(&self) -> Option<Ecgi> {
        let mut r = self.part(4)?;
        Some(Ecgi {
            plmn: PlmnId::read(&mut r)?,
            eci: r.u32(Field::IeValue).ok()?,
        })
    }

    pub(crate) fn decode(v: &[u8]) -> Option<Uli<'_>> {
        let (&flags, parts) = v.split_first()?;
        Some(Uli {
            flags,
            parts: Cow::Borrowed(parts),
        })
    }

    /// Detaches the value from the datagram it was parsed from.
    pub fn into_owned(self) -> Uli<'static> {
        Uli {
            flags: self.flags,
            parts: Cow::Owned(self.parts.into_owned()),
        }
    }
}

/// The Fully Qualified TEID IE (TS 29.274 section 8.22): V4 and V6 flags (from which address is
/// present), the interface type, the TEID or GRE key and the addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fteid {
    /// The interface type (six bits).
    pub interface_type: InterfaceType,
    /// The TEID or GRE key.
    pub teid: u32,
    /// The IPv4 address (flag V4).
    pub ipv4: Option<Ipv4Addr>,
    /// The IPv6 address (flag V6).
    pub ipv6: Option<Ipv6Addr>,
}

impl Fteid {
    pub(crate) fn decode(v: &[u8]) -> Option<Self> {
        let mut r = reader(v);
        let o = r.u8(Field::IeValue).ok()?;
        let teid = r.u32(Field::IeValue).ok()?;
        let ipv4 = if o & 0x80 != 0 {
            Some(r.addr(Field::IeValue).ok()?)
        } else {
            None
        };
        let ipv6 = if o & 0x40 != 0 {
            Some(v6(&mut r)?)
        } else {
            None
        };
        let f = Fteid {
            interface_type: InterfaceType(o & 0x3f),
            teid,
            ipv4,
            ipv6,
        };
        r.is_empty().then_some(f)
    }

    pub(crate) fn value_len(&self) -> usize {
        5 + if self.ipv4.is_some() { 4 } else { 0 } + if self.ipv6.is_some() { 16 } else { 0 }
    }

    pub(crate) fn emit(&self, buf: &mut impl BufMut) {
        let flags = (u8::from(self.ipv4.is_some()) << 7) | (u8::from(self.ipv6.is_some()) << 6);
        buf.put_u8(flags | (self.interface_type.0 & 0x3f));
        buf.put_u32(self.teid);
        if let Some(a) = self.ipv4 {
            buf.put_slice(&a.octets());
        }
        if let Some(a) = self.ipv6 {
            buf.put_slice(&a.octets());
        }
    }
}
