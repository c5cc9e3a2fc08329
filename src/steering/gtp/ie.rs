//! GTPv1 information elements (TS 29.060 section 7.7).

use super::{Cause, EmitError, Field, IeType, WireError};
use crate::io::Reader;
use arrayvec::ArrayString;
use bytes::BufMut;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One information element.
///
/// Opaque values borrow from the parsed datagram (`Cow::Borrowed`) or are owned by a builder
/// (`Cow::Owned`); [`Ie::into_owned`] detaches a parsed element. The typed variants are the ones the
/// steering machines and the gateway use; every other element is kept as [`Ie::Tv`] (a TV type
/// whose fixed length is known) or [`Ie::Tlv`], so it survives parse and emit unchanged. A raw
/// variant built with the type of a typed one emits the same bytes but parses back typed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ie<'a> {
    /// Cause (1).
    Cause(Cause),
    /// IMSI (2), eight TBCD octets.
    Imsi(Imsi),
    /// Recovery (14): the sender's restart counter.
    Recovery(u8),
    /// Selection Mode (15), the whole octet (spare bits included).
    SelectionMode(u8),
    /// TEID Data I (16).
    TeidDataI(u32),
    /// TEID Control Plane (17).
    TeidControl(u32),
    /// TEID Data II (18): the NSAPI octet (spare bits included) and the TEID.
    TeidDataII {
        /// The octet holding the NSAPI in its low four bits.
        nsapi: u8,
        /// The TEID.
        teid: u32,
    },
    /// Teardown Ind (19), the whole octet.
    TeardownInd(u8),
    /// NSAPI (20), the whole octet (the NSAPI is the low four bits).
    Nsapi(u8),
    /// Charging ID (127).
    ChargingId(u32),
    /// End User Address (128).
    EndUserAddress(EndUserAddress<'a>),
    /// Access Point Name (131), in its label encoding.
    Apn(Apn<'a>),
    /// Protocol Configuration Options (132), opaque.
    Pco(Cow<'a, [u8]>),
    /// GSN Address (133): an IPv4 or IPv6 address.
    GsnAddress(IpAddr),
    /// MSISDN (134), opaque (TS 29.002 AddressString).
    Msisdn(Cow<'a, [u8]>),
    /// Quality of Service Profile (135), opaque (allocation/retention priority then TS 24.008 QoS).
    QosProfile(Cow<'a, [u8]>),
    /// Extension Header Type List (141): the extension header types the sender supports.
    ExtensionHeaderTypeList(Cow<'a, [u8]>),
    /// Private Extension (255).
    PrivateExtension {
        /// The IANA enterprise number of the extension.
        extension_id: u16,
        /// The extension value.
        value: Cow<'a, [u8]>,
    },
    /// Any other TV element; `value.len()` must be `ie_type.tv_len()`.
    Tv {
        /// The type, below 128.
        ie_type: IeType,
        /// The fixed-length value.
        value: Cow<'a, [u8]>,
    },
    /// Any other TLV element.
    Tlv {
        /// The type, 128 or above.
        ie_type: IeType,
        /// The value.
        value: Cow<'a, [u8]>,
    },
}

/// An IMSI as carried in the IMSI IE: eight octets of TBCD digits, filler `0xF`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Imsi(pub [u8; 8]);

impl Imsi {
    /// Encodes up to 15 decimal digits; `None` if `digits` is empty, too long or not decimal.
    pub fn from_digits(digits: &str) -> Option<Imsi> {
        let d = digits.as_bytes();
        if d.is_empty() || d.len() > 15 || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut out = [0xffu8; 8];
        for (i, c) in d.iter().enumerate() {
            let v = c - b'0';
            let slot = out.get_mut(i / 2)?;
            if i % 2 == 0 {
                *slot = (*slot & 0xf0) | v;
            } else {
                *slot = (*slot & 0x0f) | (v << 4);
            }
        }
        Some(Imsi(out))
    }

    /// The decimal digits, stopping at the first filler nibble (non-decimal nibbles are skipped).
    pub fn digits(&self) -> ArrayString<16> {
        let mut s = ArrayString::new();
        for b in self.0 {
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
}

impl std::fmt::Debug for Imsi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Imsi({})", self.digits())
    }
}

/// The End User Address IE (TS 29.060 section 7.7.27): PDP type organisation, PDP type number and
/// the PDP address (empty when the address is to be allocated dynamically).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndUserAddress<'a> {
    /// The first octet: four spare bits (sent as `1111`) and the PDP type organisation (1 = IETF).
    pub organization: u8,
    /// The PDP type number (0x21 = IPv4, 0x57 = IPv6, 0x8D = IPv4v6 for the IETF organisation).
    pub pdp_type: u8,
    /// The PDP address octets.
    pub address: Cow<'a, [u8]>,
}

impl EndUserAddress<'static> {
    /// The PDP type organisation octet for IETF, spare bits set.
    pub const IETF: u8 = 0xf1;
    /// PDP type number for IPv4.
    pub const IPV4: u8 = 0x21;
    /// PDP type number for IPv6.
    pub const IPV6: u8 = 0x57;
    /// PDP type number for IPv4v6, a dual-stack PDP context (TS 29.060 section 7.7.27, TS
    /// 23.060 section 9.2.1).
    pub const IPV4V6: u8 = 0x8d;

    /// An IPv4 address, or a request for a dynamic one when `addr` is `None`.
    pub fn ipv4(addr: Option<Ipv4Addr>) -> Self {
        EndUserAddress {
            organization: Self::IETF,
            pdp_type: Self::IPV4,
            address: Cow::Owned(addr.map(|a| a.octets().to_vec()).unwrap_or_default()),
        }
    }
}

impl EndUserAddress<'static> {
    /// An IPv6 address (TS 29.060 section 7.7.27: sixteen octets), or a request for a dynamic
    /// one when `addr` is `None`.
    pub fn ipv6(addr: Option<Ipv6Addr>) -> Self {
        EndUserAddress {
            organization: Self::IETF,
            pdp_type: Self::IPV6,
            address: Cow::Owned(addr.map(|a| a.octets().to_vec()).unwrap_or_default()),
        }
    }

    /// A dual-stack IPv4v6 address (TS 29.060 section 7.7.27: the four IPv4 octets, then the
    /// sixteen IPv6 octets), or a request for dynamic ones when both are `None`.
    pub fn ipv4v6(v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) -> Self {
        let mut address = Vec::new();
        if let (Some(a), Some(b)) = (v4, v6) {
            address.extend_from_slice(&a.octets());
            address.extend_from_slice(&b.octets());
        }
        EndUserAddress {
            organization: Self::IETF,
            pdp_type: Self::IPV4V6,
            address: Cow::Owned(address),
        }
    }
}

impl EndUserAddress<'_> {
    /// Whether the PDP type organisation is IETF (low four bits 1).
    fn ietf(&self) -> bool {
        self.organization & 0x0f == 1
    }

    /// The IPv4 address: of an IETF IPv4 address with four address octets, or of an IPv4v6 one
    /// with twenty (TS 29.060 section 7.7.27).
    pub fn ipv4_addr(&self) -> Option<Ipv4Addr> {
        let o: [u8; 4] = match (self.ietf(), self.pdp_type, self.address.len()) {
            (true, EndUserAddress::IPV4, 4) | (true, EndUserAddress::IPV4V6, 20) => {
                self.address.get(..4)?.try_into().ok()?
            }
            _ => return None,
        };
        Some(Ipv4Addr::from(o))
    }

    /// The IPv6 address: of an IETF IPv6 address with sixteen address octets, or of an IPv4v6
    /// one with twenty (TS 29.060 section 7.7.27).
    pub fn ipv6_addr(&self) -> Option<Ipv6Addr> {
        let o: [u8; 16] = match (self.ietf(), self.pdp_type, self.address.len()) {
            (true, EndUserAddress::IPV6, 16) => self.address.as_ref().try_into().ok()?,
            (true, EndUserAddress::IPV4V6, 20) => self.address.get(4..)?.try_into().ok()?,
            _ => return None,
        };
        Some(Ipv6Addr::from(o))
    }

    /// Detaches the address from the datagram it was parsed from.
    pub fn into_owned(self) -> EndUserAddress<'static> {
        EndUserAddress {
            organization: self.organization,
            pdp_type: self.pdp_type,
            address: Cow::Owned(self.address.into_owned()),
        }
    }
}

/// An Access Point Name in its wire encoding: length-prefixed labels (TS 23.003 section 9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apn<'a>(pub Cow<'a, [u8]>);

impl Apn<'static> {
    /// Encodes a dotted name (`"internet"`, `"a.b.mnc001.mcc001.gprs"`); `None` if a label is empty
    /// or longer than 63 octets, or the whole is longer than 100 octets.
    pub fn from_name(name: &str) -> Option<Self> {
        let mut out = Vec::with_capacity(name.len() + 1);
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return None;
            }
            out.push(u8::try_from(label.len()).ok()?);
            out.extend_from_slice(label.as_bytes());
        }
        (out.len() <= 100).then_some(Apn(Cow::Owned(out)))
    }
}

impl Apn<'_> {
    /// The dotted name, `None` if the labels are malformed or not UTF-8.
    pub fn name(&self) -> Option<String> {
        let mut s = String::new();
        let mut rest: &[u8] = &self.0;
        while let Some((&len, tail)) = rest.split_first() {
            let label = tail.get(..usize::from(len))?;
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(std::str::from_utf8(label).ok()?);
            rest = tail.get(usize::from(len)..)?;
        }
        Some(s)
    }
}

fn owned(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
    Cow::Owned(c.into_owned())
}

fn be32(v: &[u8]) -> u32 {
    v.iter()
        .take(4)
        .fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

impl<'a> Ie<'a> {
    /// The element's type.
    pub fn ie_type(&self) -> IeType {
        match self {
            Ie::Cause(_) => IeType::CAUSE,
            Ie::Imsi(_) => IeType::IMSI,
            Ie::Recovery(_) => IeType::RECOVERY,
            Ie::SelectionMode(_) => IeType::SELECTION_MODE,
            Ie::TeidDataI(_) => IeType::TEID_DATA_I,
            Ie::TeidControl(_) => IeType::TEID_CONTROL,
            Ie::TeidDataII { .. } => IeType::TEID_DATA_II,
            Ie::TeardownInd(_) => IeType::TEARDOWN_IND,
            Ie::Nsapi(_) => IeType::NSAPI,
            Ie::ChargingId(_) => IeType::CHARGING_ID,
            Ie::EndUserAddress(_) => IeType::END_USER_ADDRESS,
            Ie::Apn(_) => IeType::APN,
            Ie::Pco(_) => IeType::PCO,
            Ie::GsnAddress(_) => IeType::GSN_ADDRESS,
            Ie::Msisdn(_) => IeType::MSISDN,
            Ie::QosProfile(_) => IeType::QOS_PROFILE,
            Ie::ExtensionHeaderTypeList(_) => IeType::EXTENSION_HEADER_TYPE_LIST,
            Ie::PrivateExtension { .. } => IeType::PRIVATE_EXTENSION,
            Ie::Tv { ie_type, .. } | Ie::Tlv { ie_type, .. } => *ie_type,
        }
    }

    /// Detaches the element from the datagram it was parsed from.
    pub fn into_owned(self) -> Ie<'static> {
        match self {
            Ie::Cause(v) => Ie::Cause(v),
            Ie::Imsi(v) => Ie::Imsi(v),
            Ie::Recovery(v) => Ie::Recovery(v),
            Ie::SelectionMode(v) => Ie::SelectionMode(v),
            Ie::TeidDataI(v) => Ie::TeidDataI(v),
            Ie::TeidControl(v) => Ie::TeidControl(v),
            Ie::TeidDataII { nsapi, teid } => Ie::TeidDataII { nsapi, teid },
            Ie::TeardownInd(v) => Ie::TeardownInd(v),
            Ie::Nsapi(v) => Ie::Nsapi(v),
            Ie::ChargingId(v) => Ie::ChargingId(v),
            Ie::EndUserAddress(v) => Ie::EndUserAddress(v.into_owned()),
            Ie::Apn(v) => Ie::Apn(Apn(owned(v.0))),
            Ie::Pco(v) => Ie::Pco(owned(v)),
            Ie::GsnAddress(v) => Ie::GsnAddress(v),
            Ie::Msisdn(v) => Ie::Msisdn(owned(v)),
            Ie::QosProfile(v) => Ie::QosProfile(owned(v)),
            Ie::ExtensionHeaderTypeList(v) => Ie::ExtensionHeaderTypeList(owned(v)),
            Ie::PrivateExtension {
                extension_id,
                value,
            } => Ie::PrivateExtension {
                extension_id,
                value: owned(value),
            },
            Ie::Tv { ie_type, value } => Ie::Tv {
                ie_type,
                value: owned(value),
            },
            Ie::Tlv { ie_type, value } => Ie::Tlv {
                ie_type,
                value: owned(value),
            },
        }
    }

    /// Parses one element at the reader's position.
    pub(crate) fn parse(r: &mut Reader<'a>) -> Result<Ie<'a>, WireError> {
        let start = r.offset();
        let ie_type = IeType(r.u8(Field::IeType)?);
        if ie_type.is_tv() {
            let len = ie_type.tv_len().ok_or(WireError::UnknownTvIe {
                offset: start,
                ie_type: ie_type.0,
            })?;
            let v = r.bytes(len, Field::TvIeValue)?;
            let first = v.first().copied().unwrap_or(0);
            return Ok(match ie_type {
                IeType::CAUSE => Ie::Cause(Cause(first)),
                IeType::IMSI => Ie::Imsi(Imsi(v.try_into().unwrap_or([0xff; 8]))),
                IeType::RECOVERY => Ie::Recovery(first),
                IeType::SELECTION_MODE => Ie::SelectionMode(first),
                IeType::TEID_DATA_I => Ie::TeidDataI(be32(v)),
                IeType::TEID_CONTROL => Ie::TeidControl(be32(v)),
                IeType::TEID_DATA_II => Ie::TeidDataII {
                    nsapi: first,
                    teid: be32(v.get(1..).unwrap_or(&[])),
                },
                IeType::TEARDOWN_IND => Ie::TeardownInd(first),
                IeType::NSAPI => Ie::Nsapi(first),
                IeType::CHARGING_ID => Ie::ChargingId(be32(v)),
                _ => Ie::Tv {
                    ie_type,
                    value: Cow::Borrowed(v),
                },
            });
        }
        let (len, len_field) = if ie_type == IeType::EXTENSION_HEADER_TYPE_LIST {
            (usize::from(r.u8(Field::IeLength)?), Field::IeLength)
        } else {
            (usize::from(r.u16(Field::IeLength)?), Field::IeLength)
        };
        let len_offset = start + 1;
        if len > r.remaining() {
            return Err(WireError::BadLength {
                offset: len_offset,
                field: len_field,
                declared: len,
                actual: r.remaining(),
            });
        }
        let v = r.bytes(len, Field::TlvIeValue)?;
        let vstart = len_offset
            + if ie_type == IeType::EXTENSION_HEADER_TYPE_LIST {
                1
            } else {
                2
            };
        Ok(match ie_type {
            IeType::END_USER_ADDRESS => {
                let mut er = Reader::at(v, vstart);
                let organization = er.u8(Field::EndUserAddressPdpTypeOrganisation)?;
                let pdp_type = er.u8(Field::EndUserAddressPdpTypeNumber)?;
                Ie::EndUserAddress(EndUserAddress {
                    organization,
                    pdp_type,
                    address: Cow::Borrowed(er.rest()),
                })
            }
            IeType::APN => Ie::Apn(Apn(Cow::Borrowed(v))),
            IeType::PCO => Ie::Pco(Cow::Borrowed(v)),
            IeType::GSN_ADDRESS => Ie::GsnAddress(match v.len() {
                4 => IpAddr::V4(Ipv4Addr::from(be32(v))),
                16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(v).unwrap_or([0; 16]))),
                _ => {
                    return Err(WireError::Invalid {
                        offset: len_offset,
                        field: Field::GsnAddressLength,
                    });
                }
            }),
            IeType::MSISDN => Ie::Msisdn(Cow::Borrowed(v)),
            IeType::QOS_PROFILE => Ie::QosProfile(Cow::Borrowed(v)),
            IeType::EXTENSION_HEADER_TYPE_LIST => Ie::ExtensionHeaderTypeList(Cow::Borrowed(v)),
            IeType::PRIVATE_EXTENSION => {
                let mut pr = Reader::at(v, vstart);
                let extension_id = pr.u16(Field::PrivateExtensionIdentifier)?;
                Ie::PrivateExtension {
                    extension_id,
                    value: Cow::Borrowed(pr.rest()),
                }
            }
            _ => Ie::Tlv {
                ie_type,
                value: Cow::Borrowed(v),
            },
        })
    }

    /// The length of the value part as emitted (after the type and any length field).
    fn value_len(&self) -> usize {
        match self {
            Ie::Cause(_)
            | Ie::Recovery(_)
            | Ie::SelectionMode(_)
            | Ie::TeardownInd(_)
            | Ie::Nsapi(_) => 1,
            Ie::Imsi(_) => 8,
            Ie::TeidDataI(_) | Ie::TeidControl(_) | Ie::ChargingId(_) => 4,
            Ie::TeidDataII { .. } => 5,
            Ie::EndUserAddress(e) => 2 + e.address.len(),
            Ie::Apn(a) => a.0.len(),
            Ie::GsnAddress(IpAddr::V4(_)) => 4,
            Ie::GsnAddress(IpAddr::V6(_)) => 16,
            Ie::PrivateExtension { value, .. } => 2 + value.len(),
            Ie::Pco(v)
            | Ie::Msisdn(v)
            | Ie::QosProfile(v)
            | Ie::ExtensionHeaderTypeList(v)
            | Ie::Tv { value: v, .. }
            | Ie::Tlv { value: v, .. } => v.len(),
        }
    }

    /// The number of octets [`Ie::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        let t = self.ie_type();
        let header = if t.is_tv() {
            1
        } else if t == IeType::EXTENSION_HEADER_TYPE_LIST {
            2
        } else {
            3
        };
        header + self.value_len()
    }

    /// Checks that the element can be emitted: a TV value has its fixed length and a TLV value fits
    /// its length field.
    pub fn check(&self) -> Result<(), EmitError> {
        let t = self.ie_type();
        let len = self.value_len();
        let ok = if t.is_tv() {
            t.tv_len() == Some(len)
        } else if t == IeType::EXTENSION_HEADER_TYPE_LIST {
            len <= usize::from(u8::MAX)
        } else {
            len <= usize::from(u16::MAX)
        };
        if ok {
            Ok(())
        } else {
            Err(EmitError::BadLength {
                field: Field::IeValue,
                length: len,
            })
        }
    }

    /// Writes the element. Call [`Ie::check`] first (the message's `emit` does).
    pub(crate) fn emit_unchecked(&self, buf: &mut impl BufMut) {
        let t = self.ie_type();
        buf.put_u8(t.0);
        let len = self.value_len();
        if !t.is_tv() {
            if t == IeType::EXTENSION_HEADER_TYPE_LIST {
                buf.put_u8(u8::try_from(len).unwrap_or(u8::MAX));
            } else {
                buf.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
            }
        }
        match self {
            Ie::Cause(c) => buf.put_u8(c.0),
            Ie::Recovery(v) | Ie::SelectionMode(v) | Ie::TeardownInd(v) | Ie::Nsapi(v) => {
                buf.put_u8(*v)
            }
            Ie::Imsi(i) => buf.put_slice(&i.0),
            Ie::TeidDataI(v) | Ie::TeidControl(v) | Ie::ChargingId(v) => buf.put_u32(*v),
            Ie::TeidDataII { nsapi, teid } => {
                buf.put_u8(*nsapi);
                buf.put_u32(*teid);
            }
            Ie::EndUserAddress(e) => {
                buf.put_u8(e.organization);
                buf.put_u8(e.pdp_type);
                buf.put_slice(&e.address);
            }
            Ie::Apn(a) => buf.put_slice(&a.0),
            Ie::GsnAddress(IpAddr::V4(a)) => buf.put_slice(&a.octets()),
            Ie::GsnAddress(IpAddr::V6(a)) => buf.put_slice(&a.octets()),
            Ie::PrivateExtension {
                extension_id,
                value,
            } => {
                buf.put_u16(*extension_id);
                buf.put_slice(value);
            }
            Ie::Pco(v)
            | Ie::Msisdn(v)
            | Ie::QosProfile(v)
            | Ie::ExtensionHeaderTypeList(v)
            | Ie::Tv { value: v, .. }
            | Ie::Tlv { value: v, .. } => buf.put_slice(v),
        }
    }

    /// Writes the element, after checking it can be.
    pub fn emit(&self, buf: &mut impl BufMut) -> Result<(), EmitError> {
        self.check()?;
        self.emit_unchecked(buf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imsi_digits_round_trip() {
        let i = Imsi::from_digits("001010123456789").unwrap();
        assert_eq!(i.0, [0x00, 0x01, 0x01, 0x21, 0x43, 0x65, 0x87, 0xf9]);
        assert_eq!(i.digits().as_str(), "001010123456789");
        assert!(Imsi::from_digits("12a").is_none());
    }

    #[test]
    fn apn_name_round_trip() {
        let a = Apn::from_name("internet.mnc001.mcc001.gprs").unwrap();
        assert_eq!(a.name().unwrap(), "internet.mnc001.mcc001.gprs");
        assert!(Apn::from_name("a..b").is_none());
    }
}
