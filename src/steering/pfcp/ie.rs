//! PFCP information elements (TS 29.244 section 8.1): a 16-bit type, a 16-bit length (octets
//! after the length field) and the value; vendor-specific types (bit 15 set) start their value
//! with a 16-bit Enterprise ID; grouped IEs hold IEs.

use super::teidri::UpIpResourceInformation;
use super::values::{ApplyAction, FSeid, FTeid, NodeId, OuterHeaderCreation, UeIpAddress};
use super::{Cause, EmitError, Field, IeType, Interface, MAX_DEPTH, MAX_IES, WireError, values};
use crate::io::Reader;
use bytes::BufMut;
use std::borrow::Cow;

/// One information element.
///
/// Opaque values borrow from the parsed datagram (`Cow::Borrowed`) or are owned by a builder;
/// [`Ie::into_owned`] detaches a parsed element. A value of a typed IE that is not in the form its
/// variant emits (spare bits set, octets beyond those its flags announce, a length the type does
/// not have) is kept as [`Ie::Raw`], so every element survives parse and emit byte for byte. A
/// raw variant built with the type of a typed or grouped one emits the same bytes but parses back
/// typed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ie<'a> {
    /// Cause (19, section 8.2.1).
    Cause(Cause),
    /// Source Interface (20, section 8.2.2): the interface (below 16).
    SourceInterface(Interface),
    /// F-TEID (21, section 8.2.3).
    FTeid(FTeid),
    /// Precedence (29, section 8.2.11).
    Precedence(u32),
    /// Destination Interface (42, section 8.2.24): the interface (below 16).
    DestinationInterface(Interface),
    /// Apply Action (44, section 8.2.26).
    ApplyAction(ApplyAction),
    /// PDR ID (56, section 8.2.36): the Rule ID.
    PdrId(u16),
    /// F-SEID (57, section 8.2.37).
    FSeid(FSeid),
    /// Node ID (60, section 8.2.38).
    NodeId(NodeId<'a>),
    /// URR ID (81, section 8.2.54).
    UrrId(u32),
    /// Outer Header Creation (84, section 8.2.56).
    OuterHeaderCreation(OuterHeaderCreation),
    /// UE IP Address (93, section 8.2.62).
    UeIpAddress(UeIpAddress),
    /// Recovery Time Stamp (96, section 8.2.65): seconds since 1900-01-01 UTC (NTP era 0).
    RecoveryTimeStamp(u32),
    /// FAR ID (108, section 8.2.74).
    FarId(u32),
    /// QER ID (109, section 8.2.75).
    QerId(u32),
    /// User Plane IP Resource Information (116, section 8.2.82): a TEID range the CP function
    /// may allocate F-TEIDs from ([`super::teidri`]).
    UpIpResourceInformation(UpIpResourceInformation<'a>),
    /// A grouped IE (one of [`IeType::is_grouped`]), its elements in order.
    Grouped {
        /// The type.
        ie_type: IeType,
        /// The embedded elements.
        ies: Vec<Ie<'a>>,
    },
    /// A vendor-specific IE (section 8.1.1): type with bit 15 set, then the Enterprise ID.
    Enterprise {
        /// The type (bit 15 set).
        ie_type: IeType,
        /// The IANA enterprise number.
        enterprise_id: u16,
        /// The value after the Enterprise ID.
        value: Cow<'a, [u8]>,
    },
    /// Any other element (type without bit 15), its value as it is.
    Raw {
        /// The type.
        ie_type: IeType,
        /// The value.
        value: Cow<'a, [u8]>,
    },
}

/// The parse budget shared by every level of one message: IEs left before [`MAX_IES`].
pub(super) struct Budget(pub(super) usize);

impl Budget {
    pub(super) fn new() -> Self {
        Budget(MAX_IES)
    }
}

fn u16v(v: &[u8]) -> Option<u16> {
    v.try_into().ok().map(u16::from_be_bytes)
}

fn u32v(v: &[u8]) -> Option<u32> {
    v.try_into().ok().map(u32::from_be_bytes)
}

/// The typed element for a value of type `t`, `None` if `t` has no typed variant or the value is
/// not in its variant's form.
fn typed(t: IeType, v: &[u8]) -> Option<Ie<'_>> {
    Some(match t {
        IeType::CAUSE => Ie::Cause(Cause(*<&[u8; 1]>::try_from(v).ok()?.first()?)),
        IeType::SOURCE_INTERFACE => Ie::SourceInterface(values::interface(v)?),
        IeType::F_TEID => Ie::FTeid(FTeid::decode(v)?),
        IeType::PRECEDENCE => Ie::Precedence(u32v(v)?),
        IeType::DESTINATION_INTERFACE => Ie::DestinationInterface(values::interface(v)?),
        IeType::APPLY_ACTION => Ie::ApplyAction(ApplyAction::decode(v)?),
        IeType::PDR_ID => Ie::PdrId(u16v(v)?),
        IeType::F_SEID => Ie::FSeid(FSeid::decode(v)?),
        IeType::NODE_ID => Ie::NodeId(NodeId::decode(v)?),
        IeType::URR_ID => Ie::UrrId(u32v(v)?),
        IeType::OUTER_HEADER_CREATION => Ie::OuterHeaderCreation(OuterHeaderCreation::decode(v)?),
        IeType::UE_IP_ADDRESS => Ie::UeIpAddress(UeIpAddress::decode(v)?),
        IeType::RECOVERY_TIME_STAMP => Ie::RecoveryTimeStamp(u32v(v)?),
        IeType::FAR_ID => Ie::FarId(u32v(v)?),
        IeType::QER_ID => Ie::QerId(u32v(v)?),
        IeType::USER_PLANE_IP_RESOURCE_INFORMATION => {
            Ie::UpIpResourceInformation(UpIpResourceInformation::decode(v)?)
        }
        _ => return None,
    })
}

/// Parses elements until the reader is empty; `depth` is the nesting level of these elements
/// (0 for a message's own).
pub(super) fn parse_list<'a>(
    r: &mut Reader<'a>,
    depth: usize,
    budget: &mut Budget,
) -> Result<Vec<Ie<'a>>, WireError> {
    let mut ies = Vec::new();
    while !r.is_empty() {
        ies.push(Ie::parse(r, depth, budget)?);
    }
    Ok(ies)
}

impl<'a> Ie<'a> {
    /// Parses one element at the reader's position.
    fn parse(r: &mut Reader<'a>, depth: usize, budget: &mut Budget) -> Result<Ie<'a>, WireError> {
        let start = r.offset();
        budget.0 = budget
            .0
            .checked_sub(1)
            .ok_or(WireError::TooManyIes { offset: start })?;
        let ie_type = IeType(r.u16(Field::IeType)?);
        let len = usize::from(r.u16(Field::IeLength)?);
        if len > r.remaining() {
            return Err(WireError::BadLength {
                offset: start + 2,
                field: Field::IeLength,
                length: len,
                available: r.remaining(),
            });
        }
        let vstart = r.offset();
        let v = r.bytes(len, Field::IeValue)?;
        if ie_type.is_enterprise() {
            let mut er = Reader::at(v, vstart);
            let enterprise_id = er.u16(Field::EnterpriseId)?;
            return Ok(Ie::Enterprise {
                ie_type,
                enterprise_id,
                value: Cow::Borrowed(er.rest()),
            });
        }
        if ie_type.is_grouped() {
            if depth + 1 >= MAX_DEPTH {
                return Err(WireError::TooDeep { offset: start });
            }
            let ies = parse_list(&mut Reader::at(v, vstart), depth + 1, budget)?;
            return Ok(Ie::Grouped { ie_type, ies });
        }
        Ok(typed(ie_type, v).unwrap_or(Ie::Raw {
            ie_type,
            value: Cow::Borrowed(v),
        }))
    }

    /// The element's type.
    pub fn ie_type(&self) -> IeType {
        match self {
            Ie::Cause(_) => IeType::CAUSE,
            Ie::SourceInterface(_) => IeType::SOURCE_INTERFACE,
            Ie::FTeid(_) => IeType::F_TEID,
            Ie::Precedence(_) => IeType::PRECEDENCE,
            Ie::DestinationInterface(_) => IeType::DESTINATION_INTERFACE,
            Ie::ApplyAction(_) => IeType::APPLY_ACTION,
            Ie::PdrId(_) => IeType::PDR_ID,
            Ie::FSeid(_) => IeType::F_SEID,
            Ie::NodeId(_) => IeType::NODE_ID,
            Ie::UrrId(_) => IeType::URR_ID,
            Ie::OuterHeaderCreation(_) => IeType::OUTER_HEADER_CREATION,
            Ie::UeIpAddress(_) => IeType::UE_IP_ADDRESS,
            Ie::RecoveryTimeStamp(_) => IeType::RECOVERY_TIME_STAMP,
            Ie::FarId(_) => IeType::FAR_ID,
            Ie::QerId(_) => IeType::QER_ID,
            Ie::UpIpResourceInformation(_) => IeType::USER_PLANE_IP_RESOURCE_INFORMATION,
            Ie::Grouped { ie_type, .. }
            | Ie::Enterprise { ie_type, .. }
            | Ie::Raw { ie_type, .. } => *ie_type,
        }
    }

    /// The embedded elements of a grouped IE (empty for others).
    pub fn ies(&self) -> &[Ie<'a>] {
        match self {
            Ie::Grouped { ies, .. } => ies,
            _ => &[],
        }
    }

    /// The first embedded element of type `t` (of a grouped IE).
    pub fn ie(&self, t: IeType) -> Option<&Ie<'a>> {
        self.ies().iter().find(|ie| ie.ie_type() == t)
    }

    /// Detaches the element from the datagram it was parsed from.
    pub fn into_owned(self) -> Ie<'static> {
        match self {
            Ie::Cause(v) => Ie::Cause(v),
            Ie::SourceInterface(v) => Ie::SourceInterface(v),
            Ie::FTeid(v) => Ie::FTeid(v),
            Ie::Precedence(v) => Ie::Precedence(v),
            Ie::DestinationInterface(v) => Ie::DestinationInterface(v),
            Ie::ApplyAction(v) => Ie::ApplyAction(v),
            Ie::PdrId(v) => Ie::PdrId(v),
            Ie::FSeid(v) => Ie::FSeid(v),
            Ie::NodeId(v) => Ie::NodeId(v.into_owned()),
            Ie::UrrId(v) => Ie::UrrId(v),
            Ie::OuterHeaderCreation(v) => Ie::OuterHeaderCreation(v),
            Ie::UeIpAddress(v) => Ie::UeIpAddress(v),
            Ie::RecoveryTimeStamp(v) => Ie::RecoveryTimeStamp(v),
            Ie::FarId(v) => Ie::FarId(v),
            Ie::QerId(v) => Ie::QerId(v),
            Ie::UpIpResourceInformation(v) => Ie::UpIpResourceInformation(v.into_owned()),
            Ie::Grouped { ie_type, ies } => Ie::Grouped {
                ie_type,
                ies: ies.into_iter().map(Ie::into_owned).collect(),
            },
            Ie::Enterprise {
                ie_type,
                enterprise_id,
                value,
            } => Ie::Enterprise {
                ie_type,
                enterprise_id,
                value: Cow::Owned(value.into_owned()),
            },
            Ie::Raw { ie_type, value } => Ie::Raw {
                ie_type,
                value: Cow::Owned(value.into_owned()),
            },
        }
    }

    /// The length of the value (what the length field holds).
    fn value_len(&self) -> usize {
        match self {
            Ie::Cause(_) | Ie::SourceInterface(_) | Ie::DestinationInterface(_) => 1,
            Ie::PdrId(_) => 2,
            Ie::Precedence(_)
            | Ie::UrrId(_)
            | Ie::RecoveryTimeStamp(_)
            | Ie::FarId(_)
            | Ie::QerId(_) => 4,
            Ie::FTeid(f) => f.value_len(),
            Ie::ApplyAction(a) => a.value_len(),
            Ie::FSeid(f) => f.value_len(),
            Ie::NodeId(n) => n.value_len(),
            Ie::OuterHeaderCreation(o) => o.value_len(),
            Ie::UeIpAddress(u) => u.value_len(),
            Ie::UpIpResourceInformation(u) => u.value_len(),
            Ie::Grouped { ies, .. } => ies.iter().map(Ie::encoded_len).sum(),
            Ie::Enterprise { value, .. } => 2 + value.len(),
            Ie::Raw { value, .. } => value.len(),
        }
    }

    /// The number of octets [`Ie::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        4 + self.value_len()
    }

    /// The number of elements this one counts for in [`MAX_IES`] (itself and what it embeds).
    pub(super) fn count(&self) -> usize {
        1 + self.ies().iter().map(Ie::count).sum::<usize>()
    }

    /// Checks that the element emits what parses back equal, at nesting level `depth`.
    pub(super) fn check_at(&self, depth: usize) -> Result<(), EmitError> {
        let invalid = |field| Err(EmitError::Invalid { field });
        let ok = match self {
            Ie::SourceInterface(i) | Ie::DestinationInterface(i) => i.0 < 16,
            Ie::ApplyAction(a) => a.is_valid(),
            Ie::NodeId(n) => n.is_valid(),
            Ie::OuterHeaderCreation(o) => o.is_valid(),
            Ie::UpIpResourceInformation(u) => u.is_valid(),
            Ie::Grouped { ie_type, ies } => {
                if depth + 1 >= MAX_DEPTH {
                    return Err(EmitError::TooDeep);
                }
                for ie in ies {
                    ie.check_at(depth + 1)?;
                }
                ie_type.is_grouped()
            }
            Ie::Enterprise { ie_type, .. } => ie_type.is_enterprise(),
            Ie::Raw { ie_type, .. } => !ie_type.is_enterprise(),
            _ => true,
        };
        if !ok {
            return invalid(Field::IeValue);
        }
        let len = self.value_len();
        if len > usize::from(u16::MAX) {
            return Err(EmitError::BadLength {
                field: Field::IeLength,
                length: len,
            });
        }
        Ok(())
    }

    /// Checks that the element can be emitted as a top-level element of a message.
    pub fn check(&self) -> Result<(), EmitError> {
        if self.count() > MAX_IES {
            return Err(EmitError::TooManyIes);
        }
        self.check_at(0)
    }

    /// Writes the element. Call [`Ie::check`] first (the message's `emit` does).
    pub(super) fn emit_unchecked(&self, buf: &mut impl BufMut) {
        buf.put_u16(self.ie_type().0);
        buf.put_u16(u16::try_from(self.value_len()).unwrap_or(u16::MAX));
        match self {
            Ie::Cause(c) => buf.put_u8(c.0),
            Ie::SourceInterface(i) | Ie::DestinationInterface(i) => buf.put_u8(i.0),
            Ie::PdrId(v) => buf.put_u16(*v),
            Ie::Precedence(v)
            | Ie::UrrId(v)
            | Ie::RecoveryTimeStamp(v)
            | Ie::FarId(v)
            | Ie::QerId(v) => buf.put_u32(*v),
            Ie::FTeid(f) => f.encode(buf),
            Ie::ApplyAction(a) => a.encode(buf),
            Ie::FSeid(f) => f.encode(buf),
            Ie::NodeId(n) => n.encode(buf),
            Ie::OuterHeaderCreation(o) => o.encode(buf),
            Ie::UeIpAddress(u) => u.encode(buf),
            Ie::UpIpResourceInformation(u) => u.encode(buf),
            Ie::Grouped { ies, .. } => ies.iter().for_each(|ie| ie.emit_unchecked(buf)),
            Ie::Enterprise {
                enterprise_id,
                value,
                ..
            } => {
                buf.put_u16(*enterprise_id);
                buf.put_slice(value);
            }
            Ie::Raw { value, .. } => buf.put_slice(value),
        }
    }

    /// Writes the element, after checking it can be.
    pub fn emit(&self, buf: &mut impl BufMut) -> Result<(), EmitError> {
        self.check()?;
        self.emit_unchecked(buf);
        Ok(())
    }
}
