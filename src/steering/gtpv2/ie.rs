//! GTPv2-C information elements (TS 29.274 section 8.2.1): type, length, spare/instance, value.

use super::values::{Ambr, BearerQos, Cause, Fteid, Paa, PlmnId, Tbcd, Uli};
use super::{EmitError, Field, IeType, MAX_GROUP_DEPTH, MAX_IES, RatType, WireError};
use crate::io::Reader;
use crate::steering::gtp::Apn;
use bytes::BufMut;
use std::borrow::Cow;

/// Octets before an IE's value: type, two length octets, spare/instance.
pub const IE_HEADER_LEN: usize = 4;

/// One information element: the four high bits of its fourth octet (the CR flag of early
/// releases, spare since; kept as received), its instance and its value (TS 29.274 section 8.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ie<'a> {
    /// The spare bits (high nibble of octet 4), at most 15.
    pub spare: u8,
    /// The instance (low nibble of octet 4), at most 15: tells apart IEs of one type in a message.
    pub instance: u8,
    /// The value, typed where this codec models the type.
    pub value: IeValue<'a>,
}

/// The value of an information element.
///
/// Opaque parts borrow from the parsed datagram or are owned by a builder. A known type whose
/// value does not have the layout of its TS 29.274 section is kept as [`IeValue::Raw`] (so the
/// receiver can refuse it in protocol terms), as is every type not modelled here; a raw value
/// emits its octets unchanged. A raw value built with a modelled type emits the same bytes but
/// parses back typed when its layout fits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IeValue<'a> {
    /// IMSI (1), TBCD digits (section 8.3).
    Imsi(Tbcd<'a>),
    /// Cause (2, section 8.4).
    Cause(Cause),
    /// Recovery (3): the restart counter (section 8.5).
    Recovery(u8),
    /// Access Point Name (71), in its label encoding (section 8.6).
    Apn(Apn<'a>),
    /// Aggregate Maximum Bit Rate (72, section 8.7).
    Ambr(Ambr),
    /// EPS Bearer ID (73): the whole octet, the EBI in its low four bits (section 8.8).
    Ebi(u8),
    /// MSISDN (76), TBCD digits (section 8.11).
    Msisdn(Tbcd<'a>),
    /// Indication (77): the flag octets, as received (section 8.12).
    Indication(Cow<'a, [u8]>),
    /// PDN Address Allocation (79, section 8.14).
    Paa(Paa),
    /// Bearer Level QoS (80, section 8.15).
    BearerQos(BearerQos),
    /// RAT Type (82, section 8.17).
    RatType(RatType),
    /// Serving Network (83, section 8.18).
    ServingNetwork(PlmnId),
    /// User Location Information (86, section 8.21).
    Uli(Uli<'a>),
    /// Fully Qualified TEID (87, section 8.22).
    Fteid(Fteid),
    /// PDN Type (99): the whole octet, the type in its low three bits (section 8.34).
    PdnType(u8),
    /// Selection Mode (128): the whole octet, the mode in its low two bits (section 8.58).
    SelectionMode(u8),
    /// A grouped IE ([`IeType::is_grouped`], e.g. Bearer Context, section 8.28): its IEs.
    Grouped {
        /// The type of the grouped IE.
        ie_type: IeType,
        /// The IEs inside, in order.
        ies: Vec<Ie<'a>>,
    },
    /// Any other element, or a modelled one whose value does not fit its layout.
    Raw {
        /// The type.
        ie_type: IeType,
        /// The value.
        value: Cow<'a, [u8]>,
    },
}

fn owned(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
    Cow::Owned(c.into_owned())
}

fn one(v: &[u8]) -> Option<u8> {
    match v {
        [b] => Some(*b),
        _ => None,
    }
}

impl<'a> IeValue<'a> {
    /// The element's type.
    pub fn ie_type(&self) -> IeType {
        match self {
            IeValue::Imsi(_) => IeType::IMSI,
            IeValue::Cause(_) => IeType::CAUSE,
            IeValue::Recovery(_) => IeType::RECOVERY,
            IeValue::Apn(_) => IeType::APN,
            IeValue::Ambr(_) => IeType::AMBR,
            IeValue::Ebi(_) => IeType::EBI,
            IeValue::Msisdn(_) => IeType::MSISDN,
            IeValue::Indication(_) => IeType::INDICATION,
            IeValue::Paa(_) => IeType::PAA,
            IeValue::BearerQos(_) => IeType::BEARER_QOS,
            IeValue::RatType(_) => IeType::RAT_TYPE,
            IeValue::ServingNetwork(_) => IeType::SERVING_NETWORK,
            IeValue::Uli(_) => IeType::ULI,
            IeValue::Fteid(_) => IeType::F_TEID,
            IeValue::PdnType(_) => IeType::PDN_TYPE,
            IeValue::SelectionMode(_) => IeType::SELECTION_MODE,
            IeValue::Grouped { ie_type, .. } | IeValue::Raw { ie_type, .. } => *ie_type,
        }
    }

    /// Decodes the value of a non-grouped element of type `t`.
    fn decode(t: IeType, v: &'a [u8]) -> IeValue<'a> {
        let typed = match t {
            IeType::IMSI => Some(IeValue::Imsi(Tbcd(Cow::Borrowed(v)))),
            IeType::CAUSE => Cause::decode(v).map(IeValue::Cause),
            IeType::RECOVERY => one(v).map(IeValue::Recovery),
            IeType::APN => Some(IeValue::Apn(Apn(Cow::Borrowed(v)))),
            IeType::AMBR => Ambr::decode(v).map(IeValue::Ambr),
            IeType::EBI => one(v).map(IeValue::Ebi),
            IeType::MSISDN => Some(IeValue::Msisdn(Tbcd(Cow::Borrowed(v)))),
            IeType::INDICATION => Some(IeValue::Indication(Cow::Borrowed(v))),
            IeType::PAA => Paa::decode(v).map(IeValue::Paa),
            IeType::BEARER_QOS => BearerQos::decode(v).map(IeValue::BearerQos),
            IeType::RAT_TYPE => one(v).map(|b| IeValue::RatType(RatType(b))),
            IeType::SERVING_NETWORK => v
                .try_into()
                .ok()
                .map(|p| IeValue::ServingNetwork(PlmnId(p))),
            IeType::ULI => Uli::decode(v).map(IeValue::Uli),
            IeType::F_TEID => Fteid::decode(v).map(IeValue::Fteid),
            IeType::PDN_TYPE => one(v).map(IeValue::PdnType),
            IeType::SELECTION_MODE => one(v).map(IeValue::SelectionMode),
            _ => None,
        };
        typed.unwrap_or(IeValue::Raw {
            ie_type: t,
            value: Cow::Borrowed(v),
        })
    }

    /// Octets of the value as emitted.
    pub fn value_len(&self) -> usize {
        match self {
            IeValue::Recovery(_)
            | IeValue::Ebi(_)
            | IeValue::RatType(_)
            | IeValue::PdnType(_)
            | IeValue::SelectionMode(_) => 1,
            IeValue::ServingNetwork(_) => 3,
            IeValue::Ambr(_) => 8,
            IeValue::BearerQos(_) => 22,
            IeValue::Cause(c) => c.value_len(),
            IeValue::Paa(p) => p.value_len(),
            IeValue::Fteid(f) => f.value_len(),
            IeValue::Uli(u) => 1 + u.parts.len(),
            IeValue::Imsi(t) | IeValue::Msisdn(t) => t.0.len(),
            IeValue::Apn(a) => a.0.len(),
            IeValue::Grouped { ies, .. } => ies.iter().map(Ie::encoded_len).sum(),
            IeValue::Indication(v) | IeValue::Raw { value: v, .. } => v.len(),
        }
    }

    fn emit(&self, buf: &mut impl BufMut) {
        match self {
            IeValue::Recovery(b)
            | IeValue::Ebi(b)
            | IeValue::RatType(RatType(b))
            | IeValue::PdnType(b)
            | IeValue::SelectionMode(b) => buf.put_u8(*b),
            IeValue::ServingNetwork(p) => buf.put_slice(&p.0),
            IeValue::Ambr(a) => {
                buf.put_u32(a.uplink);
                buf.put_u32(a.downlink);
            }
            IeValue::BearerQos(q) => q.emit(buf),
            IeValue::Cause(c) => c.emit(buf),
            IeValue::Paa(p) => p.emit(buf),
            IeValue::Fteid(f) => f.emit(buf),
            IeValue::Uli(u) => {
                buf.put_u8(u.flags);
                buf.put_slice(&u.parts);
            }
            IeValue::Imsi(t) | IeValue::Msisdn(t) => buf.put_slice(&t.0),
            IeValue::Apn(a) => buf.put_slice(&a.0),
            IeValue::Grouped { ies, .. } => ies.iter().for_each(|ie| ie.emit_unchecked(buf)),
            IeValue::Indication(v) | IeValue::Raw { value: v, .. } => buf.put_slice(v),
        }
    }

    /// Detaches the value from the datagram it was parsed from.
    pub fn into_owned(self) -> IeValue<'static> {
        match self {
            IeValue::Imsi(t) => IeValue::Imsi(t.into_owned()),
            IeValue::Cause(c) => IeValue::Cause(c),
            IeValue::Recovery(b) => IeValue::Recovery(b),
            IeValue::Apn(a) => IeValue::Apn(Apn(owned(a.0))),
            IeValue::Ambr(a) => IeValue::Ambr(a),
            IeValue::Ebi(b) => IeValue::Ebi(b),
            IeValue::Msisdn(t) => IeValue::Msisdn(t.into_owned()),
            IeValue::Indication(v) => IeValue::Indication(owned(v)),
            IeValue::Paa(p) => IeValue::Paa(p),
            IeValue::BearerQos(q) => IeValue::BearerQos(q),
            IeValue::RatType(r) => IeValue::RatType(r),
            IeValue::ServingNetwork(p) => IeValue::ServingNetwork(p),
            IeValue::Uli(u) => IeValue::Uli(u.into_owned()),
            IeValue::Fteid(f) => IeValue::Fteid(f),
            IeValue::PdnType(b) => IeValue::PdnType(b),
            IeValue::SelectionMode(b) => IeValue::SelectionMode(b),
            IeValue::Grouped { ie_type, ies } => IeValue::Grouped {
                ie_type,
                ies: ies.into_iter().map(Ie::into_owned).collect(),
            },
            IeValue::Raw { ie_type, value } => IeValue::Raw {
                ie_type,
                value: owned(value),
            },
        }
    }
}

/// Parses the IEs filling `r` at grouping depth `depth` (0: the message's own), counting them in
/// `count`.
pub(crate) fn parse_ies<'a>(
    r: &mut Reader<'a>,
    depth: usize,
    count: &mut usize,
) -> Result<Vec<Ie<'a>>, WireError> {
    let mut ies = Vec::new();
    while !r.is_empty() {
        ies.push(Ie::parse(r, depth, count)?);
    }
    Ok(ies)
}

/// Checks a list of IEs at grouping depth `depth`, counting them in `count`.
pub(crate) fn check_ies(ies: &[Ie<'_>], depth: usize, count: &mut usize) -> Result<(), EmitError> {
    ies.iter().try_for_each(|ie| ie.check_at(depth, count))
}

impl<'a> Ie<'a> {
    /// An element of instance 0.
    pub fn new(value: IeValue<'a>) -> Self {
        Ie::with_instance(0, value)
    }

    /// An element of instance `instance` (at most 15).
    pub fn with_instance(instance: u8, value: IeValue<'a>) -> Self {
        Ie {
            spare: 0,
            instance,
            value,
        }
    }

    /// The element's type.
    pub fn ie_type(&self) -> IeType {
        self.value.ie_type()
    }

    /// The IEs inside a grouped element (empty for others).
    pub fn ies(&self) -> &[Ie<'a>] {
        match &self.value {
            IeValue::Grouped { ies, .. } => ies,
            _ => &[],
        }
    }

    /// The first element of type `t` and instance `instance` inside this grouped element.
    pub fn ie(&self, t: IeType, instance: u8) -> Option<&Ie<'a>> {
        find(self.ies(), t, instance)
    }

    /// Octets [`Ie::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        IE_HEADER_LEN + self.value.value_len()
    }

    fn parse(r: &mut Reader<'a>, depth: usize, count: &mut usize) -> Result<Ie<'a>, WireError> {
        let start = r.offset();
        *count += 1;
        if *count > MAX_IES {
            return Err(WireError::TooManyIes { offset: start });
        }
        let ie_type = IeType(r.u8(Field::IeType)?);
        let len = usize::from(r.u16(Field::IeLength)?);
        let octet4 = r.u8(Field::IeInstance)?;
        if len > r.remaining() {
            return Err(WireError::BadLength {
                offset: start + 1,
                field: Field::IeLength,
                length: len,
                available: r.remaining(),
            });
        }
        let v = r.bytes(len, Field::IeValue)?;
        let value = if ie_type.is_grouped() {
            if depth >= MAX_GROUP_DEPTH {
                return Err(WireError::TooDeep { offset: start });
            }
            let mut g = Reader::at(v, start + IE_HEADER_LEN);
            IeValue::Grouped {
                ie_type,
                ies: parse_ies(&mut g, depth + 1, count)?,
            }
        } else {
            IeValue::decode(ie_type, v)
        };
        Ok(Ie {
            spare: octet4 >> 4,
            instance: octet4 & 0x0f,
            value,
        })
    }

    fn check_at(&self, depth: usize, count: &mut usize) -> Result<(), EmitError> {
        *count += 1;
        if *count > MAX_IES {
            return Err(EmitError::TooManyIes);
        }
        if self.instance > 15 || self.spare > 15 {
            return Err(EmitError::OutOfRange {
                field: Field::IeInstance,
            });
        }
        let len = self.value.value_len();
        if len > usize::from(u16::MAX) {
            return Err(EmitError::BadLength {
                field: Field::IeValue,
                length: len,
            });
        }
        match &self.value {
            IeValue::Fteid(f) if f.interface_type.0 > 0x3f => Err(EmitError::OutOfRange {
                field: Field::InterfaceType,
            }),
            IeValue::BearerQos(q) if !q.in_range() => Err(EmitError::OutOfRange {
                field: Field::BitRate,
            }),
            IeValue::Grouped { ies, .. } if depth >= MAX_GROUP_DEPTH => Err(EmitError::TooDeep),
            IeValue::Grouped { ies, .. } => check_ies(ies, depth + 1, count),
            _ => Ok(()),
        }
    }

    /// Checks that the element can be emitted: instance and spare fit their nibbles, values fit
    /// their fields and length octets, grouping within [`MAX_GROUP_DEPTH`] and [`MAX_IES`].
    pub fn check(&self) -> Result<(), EmitError> {
        self.check_at(0, &mut 0)
    }

    pub(crate) fn emit_unchecked(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.ie_type().0);
        buf.put_u16(u16::try_from(self.value.value_len()).unwrap_or(u16::MAX));
        buf.put_u8((self.spare << 4) | (self.instance & 0x0f));
        self.value.emit(buf);
    }

    /// Writes the element, after checking it can be.
    pub fn emit(&self, buf: &mut impl BufMut) -> Result<(), EmitError> {
        self.check()?;
        self.emit_unchecked(buf);
        Ok(())
    }

    /// Detaches the element from the datagram it was parsed from.
    pub fn into_owned(self) -> Ie<'static> {
        Ie {
            spare: self.spare,
            instance: self.instance,
            value: self.value.into_owned(),
        }
    }
}

/// The first element of type `t` and instance `instance` in `ies`.
pub fn find<'i, 'a>(ies: &'i [Ie<'a>], t: IeType, instance: u8) -> Option<&'i Ie<'a>> {
    ies.iter()
        .find(|ie| ie.ie_type() == t && ie.instance == instance)
}
