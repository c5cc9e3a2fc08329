//! TEID ranges for F-TEIDs the CP function allocates: the User Plane IP Resource Information IE
//! (TS 29.244 section 8.2.82) and which [`VidLayout`]s its TEID Range Indication (TEIDRI) can
//! describe.
//!
//! Where the CP function allocates the TEIDs (F-TEID with CH = 0 in a Create PDR's PDI), the UP
//! function tells it in the Association Setup Response which TEIDs it may use: TEIDRI (0 to 7)
//! is the number of the TEID's most significant bits that partition the TEID space, TEID Range
//! their value (right-aligned in its octet). For the line interface to steer such a TEID to the
//! processor holding the session, those fixed bits must be exactly the layout's VID fields:
//!
//! * the primary VID field must be the TEID's top bits ([`VidLayout::teid32`] puts it there);
//! * with a backup field right below it, both fields are fixed (the backup the CP function picks
//!   with the range is the session's failover target): their widths add up to at most 7, so
//!   at most 3-bit VIDs (7 processors) when both are as wide, one range per (VID, backup VID)
//!   pair;
//! * without a backup field, `width <= 7` (127 processors), one range per VID.
//!
//! Any other layout is refused with a [`TeidriError`] by [`ranges`] (the switch processor calls
//! it at configuration time, [`SwitchConfig::teid_ranges`]).
//!
//! The IE's value (section 8.2.82), as [`UpIpResourceInformation`]: octet 5 the flags (bit 1
//! V4, bit 2 V6, bits 3 to 5 TEIDRI, bit 6 ASSONI, bit 7 ASSOSI, bit 8 spare), then the TEID
//! Range (one octet, when TEIDRI is not 0), the IPv4 address (V4), the IPv6 address (V6), the
//! Network Instance (ASSONI, up to the Source Interface octet or the end) and the Source
//! Interface (ASSOSI, its low four bits).
//!
//! ```
//! use telcp::steering::pfcp::teidri::{UpIpResourceInformation, ranges};
//! use telcp::steering::{VidLayout, VirtualId};
//!
//! let layout = VidLayout::teid32(3, 3).unwrap();
//! let (p, b) = (VirtualId::new(5).unwrap(), VirtualId::new(2).unwrap());
//! let info = ranges(&layout).unwrap().info(p, Some(b), "10.0.0.1".parse().ok(), None).unwrap();
//! assert_eq!((info.teidri, info.teid_range), (6, 0b101_010));
//! assert!(info.contains(layout.compose(p, Some(b), 77).unwrap()));
//! let mut value = Vec::new();
//! info.encode(&mut value);
//! // V4, TEIDRI 6; TEID Range 0b101010; 10.0.0.1.
//! assert_eq!(value, [0x19, 0x2a, 10, 0, 0, 1]);
//! assert_eq!(UpIpResourceInformation::decode(&value), Some(info));
//! ```
//!
//! [`SwitchConfig::teid_ranges`]: crate::steering::switch::SwitchConfig::teid_ranges

use super::{Field, Interface};
use crate::io::Reader;
use crate::steering::vid::{VidLayout, VirtualId};
use bytes::BufMut;
use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The most TEID bits TEIDRI can fix (its field has three bits, TS 29.244 section 8.2.82).
pub const MAX_TEIDRI: u8 = 7;

/// Why a layout's VIDs cannot be described by TEIDRI ([`ranges`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TeidriError {
    /// The layout is not a 32-bit TEID layout, or its primary field is not the TEID's top bits.
    #[error("the primary VID field is not the TEID's most significant bits")]
    NotTopAligned,
    /// The backup field is not right below the primary field.
    #[error("the backup VID field does not follow the primary field")]
    BackupNotAdjacent,
    /// The VID fields take this many bits, more than the 7 TEIDRI can fix.
    #[error("the VID fields take {0} bits; TEIDRI fixes at most 7")]
    TooWide(u8),
}

/// The TEID ranges of a layout's VIDs ([`ranges`]): the fixed bits are the primary VID and,
/// when the layout has one, the backup VID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeidRanges {
    width: u8,
    backup_width: Option<u8>,
}

/// The TEIDRI description of `layout` (see the [module documentation](self)); errors:
/// [`TeidriError::NotTopAligned`], [`TeidriError::BackupNotAdjacent`],
/// [`TeidriError::TooWide`].
pub fn ranges(layout: &VidLayout) -> Result<TeidRanges, TeidriError> {
    let p = layout.primary_field();
    if layout.id_bits() != 32 || u32::from(p.shift) + u32::from(p.width) != 32 {
        return Err(TeidriError::NotTopAligned);
    }
    let backup_width = match layout.backup_field() {
        Some(b) if u32::from(b.shift) + u32::from(b.width) != u32::from(p.shift) => {
            return Err(TeidriError::BackupNotAdjacent);
        }
        b => b.map(|b| b.width),
    };
    let bits = p.width.saturating_add(backup_width.unwrap_or(0));
    if bits > MAX_TEIDRI {
        return Err(TeidriError::TooWide(bits));
    }
    Ok(TeidRanges {
        width: p.width,
        backup_width,
    })
}

impl TeidRanges {
    /// The TEIDRI value: the number of fixed most significant TEID bits (1 to 7).
    pub fn teidri(&self) -> u8 {
        self.width + self.backup_width.unwrap_or(0)
    }

    /// Whether the fixed bits include a backup VID (one range per (VID, backup VID) pair).
    pub fn has_backup(&self) -> bool {
        self.backup_width.is_some()
    }

    /// The TEID Range of (`vid`, `backup`): `vid` then `backup` in the low [`Self::teidri`]
    /// bits. `None` when a VID does not fit the field, or a backup is given to a layout without
    /// one (or missing for a layout with one).
    pub fn range(&self, vid: VirtualId, backup: Option<VirtualId>) -> Option<u8> {
        let fits = |v: VirtualId, w: u8| u32::from(v.get()) >> w == 0;
        if !fits(vid, self.width) {
            return None;
        }
        match (self.backup_width, backup) {
            (Some(w), Some(b)) if fits(b, w) => u8::try_from(vid.get() << w | b.get()).ok(),
            (None, None) => u8::try_from(vid.get()).ok(),
            _ => None,
        }
    }

    /// The User Plane IP Resource Information announcing the range of (`vid`, `backup`) at the
    /// given addresses (no Network Instance or Source Interface); `None` as [`Self::range`].
    pub fn info(
        &self,
        vid: VirtualId,
        backup: Option<VirtualId>,
        ipv4: Option<Ipv4Addr>,
        ipv6: Option<Ipv6Addr>,
    ) -> Option<UpIpResourceInformation<'static>> {
        Some(UpIpResourceInformation {
            teidri: self.teidri(),
            teid_range: self.range(vid, backup)?,
            ipv4,
            ipv6,
            network_instance: None,
            source_interface: None,
        })
    }
}

/// The User Plane IP Resource Information IE's value (TS 29.244 section 8.2.82; IE type 116).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpIpResourceInformation<'a> {
    /// TEID Range Indication: the number of fixed most significant TEID bits (0 to 7).
    pub teidri: u8,
    /// The value of those bits, right-aligned (0 when `teidri` is 0: not encoded then).
    pub teid_range: u8,
    /// The IPv4 address of the user plane (flag V4).
    pub ipv4: Option<Ipv4Addr>,
    /// The IPv6 address of the user plane (flag V6).
    pub ipv6: Option<Ipv6Addr>,
    /// The Network Instance the resources are for (flag ASSONI), as encoded (section 8.2.4).
    pub network_instance: Option<Cow<'a, [u8]>>,
    /// The Source Interface they are for (flag ASSOSI; below 16).
    pub source_interface: Option<Interface>,
}

impl UpIpResourceInformation<'_> {
    const V4: u8 = 0x01;
    const V6: u8 = 0x02;
    const ASSONI: u8 = 0x20;
    const ASSOSI: u8 = 0x40;

    /// Whether `teid` lies in the announced range (every TEID when `teidri` is 0).
    pub fn contains(&self, teid: u32) -> bool {
        self.teidri == 0
            || (self.teidri <= MAX_TEIDRI
                && teid >> (32 - u32::from(self.teidri)) == u32::from(self.teid_range))
    }

    /// Parses the IE's value; `None` when it is not in the section 8.2.82 form this type emits
    /// again byte for byte (spare bit 8 or the Source Interface's spare bits set, a TEID Range
    /// wider than TEIDRI, octets missing or left over).
    pub fn decode(v: &[u8]) -> Option<UpIpResourceInformation<'_>> {
        let mut r = Reader::new(v);
        let flags = r.u8(Field::IeValue).ok()?;
        if flags & 0x80 != 0 {
            return None;
        }
        let teidri = (flags >> 2) & 0x07;
        let teid_range = if teidri == 0 {
            0
        } else {
            r.u8(Field::IeValue).ok()?
        };
        if u32::from(teid_range) >> teidri != 0 {
            return None;
        }
        let ipv4 = if flags & Self::V4 != 0 {
            Some(r.addr(Field::IeValue).ok()?)
        } else {
            None
        };
        let ipv6 = if flags & Self::V6 != 0 {
            let b: [u8; 16] = r.bytes(16, Field::IeValue).ok()?.try_into().ok()?;
            Some(Ipv6Addr::from(b))
        } else {
            None
        };
        let assosi = flags & Self::ASSOSI != 0;
        let network_instance = if flags & Self::ASSONI != 0 {
            let n = r.remaining().checked_sub(usize::from(assosi))?;
            Some(Cow::Borrowed(r.bytes(n, Field::IeValue).ok()?))
        } else {
            None
        };
        let source_interface = if assosi {
            Some(super::values::interface(&[r.u8(Field::IeValue).ok()?])?)
        } else {
            None
        };
        r.is_empty().then_some(UpIpResourceInformation {
            teidri,
            teid_range,
            ipv4,
            ipv6,
            network_instance,
            source_interface,
        })
    }

    /// Whether the value emits what parses back equal: TEIDRI at most 7, a TEID Range that fits
    /// it (0 with TEIDRI 0), a Source Interface below 16.
    pub fn is_valid(&self) -> bool {
        self.teidri <= MAX_TEIDRI
            && u32::from(self.teid_range) >> self.teidri == 0
            && self.source_interface.is_none_or(|i| i.0 < 16)
    }

    /// The flags octet (V4, V6, TEIDRI, ASSONI, ASSOSI).
    pub fn flags(&self) -> u8 {
        let bit = |on: bool, b: u8| if on { b } else { 0 };
        bit(self.ipv4.is_some(), Self::V4)
            | bit(self.ipv6.is_some(), Self::V6)
            | ((self.teidri & 0x07) << 2)
            | bit(self.network_instance.is_some(), Self::ASSONI)
            | bit(self.source_interface.is_some(), Self::ASSOSI)
    }

    /// The length of the value in octets.
    pub fn value_len(&self) -> usize {
        1 + usize::from(self.teidri != 0)
            + if self.ipv4.is_some() { 4 } else { 0 }
            + if self.ipv6.is_some() { 16 } else { 0 }
            + self.network_instance.as_ref().map_or(0, |n| n.len())
            + usize::from(self.source_interface.is_some())
    }

    /// Writes the value ([`Self::is_valid`] first, or the bytes may not parse back equal).
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.flags());
        if self.teidri != 0 {
            buf.put_u8(self.teid_range);
        }
        if let Some(a) = self.ipv4 {
            buf.put_slice(&a.octets());
        }
        if let Some(a) = self.ipv6 {
            buf.put_slice(&a.octets());
        }
        if let Some(n) = &self.network_instance {
            buf.put_slice(n);
        }
        if let Some(i) = self.source_interface {
            buf.put_u8(i.0 & 0x0f);
        }
    }

    /// Detaches the value from the datagram it was parsed from.
    pub fn into_owned(self) -> UpIpResourceInformation<'static> {
        UpIpResourceInformation {
            network_instance: self.network_instance.map(|n| Cow::Owned(n.into_owned())),
            teidri: self.teidri,
            teid_range: self.teid_range,
            ipv4: self.ipv4,
            ipv6: self.ipv6,
            source_interface: self.source_interface,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steering::vid::BitField;
    use proptest::prelude::*;

    fn enc(i: &UpIpResourceInformation<'_>) -> Vec<u8> {
        let mut v = Vec::new();
        i.encode(&mut v);
        v
    }

    #[test]
    fn which_layouts_teidri_describes() {
        let t = |l: VidLayout| ranges(&l).map(|r| r.teidri());
        assert_eq!(
            t(VidLayout::teid32(8, 8).unwrap()),
            Err(TeidriError::TooWide(16))
        );
        assert_eq!(
            t(VidLayout::teid32(4, 4).unwrap()),
            Err(TeidriError::TooWide(8))
        );
        assert_eq!(
            t(VidLayout::teid32(8, 0).unwrap()),
            Err(TeidriError::TooWide(8))
        );
        assert_eq!(t(VidLayout::teid32(7, 0).unwrap()), Ok(7));
        assert_eq!(t(VidLayout::teid32(3, 3).unwrap()), Ok(6));
        assert_eq!(t(VidLayout::teid32(1, 1).unwrap()), Ok(2));
        let r = ranges(&VidLayout::teid32(3, 3).unwrap()).unwrap();
        let v = |n| VirtualId::new(n).unwrap();
        assert_eq!(r.range(v(6), Some(v(5))), Some(0b110_101));
        assert_eq!(r.range(v(6), Some(v(8))), None);
        assert_eq!(r.range(v(8), Some(v(1))), None);
        assert_eq!(r.range(v(6), None), None);
        let f = |shift, width| BitField { shift, width };
        assert_eq!(
            t(VidLayout::new(32, f(0, 3), None).unwrap()),
            Err(TeidriError::NotTopAligned)
        );
        assert_eq!(
            t(VidLayout::new(32, f(29, 3), Some(f(20, 3))).unwrap()),
            Err(TeidriError::BackupNotAdjacent)
        );
        assert_eq!(
            t(VidLayout::id16(3, 0).unwrap()),
            Err(TeidriError::NotTopAligned)
        );
        assert_eq!(
            t(VidLayout::seid64(3, 3).unwrap()),
            Err(TeidriError::NotTopAligned)
        );
    }

    /// Conformance: pfcp-8.2.82-upiri. The flag bits as TS 29.244 section 8.2.82 numbers them.
    #[test]
    fn flag_bits_are_the_sections() {
        let mut i = UpIpResourceInformation {
            teidri: 7,
            teid_range: 0x7f,
            ipv4: None,
            ipv6: None,
            network_instance: None,
            source_interface: None,
        };
        assert_eq!(enc(&i), [0b0001_1100, 0x7f]);
        i.teidri = 1;
        i.teid_range = 1;
        i.ipv6 = Some(Ipv6Addr::LOCALHOST);
        i.network_instance = Some(Cow::Borrowed(b"\x03ims"));
        i.source_interface = Some(Interface::CORE);
        let v = enc(&i);
        assert_eq!(v[0], 0b0110_0110);
        assert_eq!(v[1], 1);
        assert_eq!(&v[18..22], b"\x03ims");
        assert_eq!(v[22], 1);
        assert_eq!(v.len(), i.value_len());
        assert_eq!(UpIpResourceInformation::decode(&v), Some(i));
    }

    #[test]
    fn refuses_values_not_in_the_form() {
        let d = UpIpResourceInformation::decode;
        assert_eq!(d(&[]), None);
        assert_eq!(d(&[0x80]), None);
        // TEIDRI 1 with a TEID Range of 2 (needs 2 bits); TEIDRI 2 without its octet.
        assert_eq!(d(&[0x04, 2]), None);
        assert_eq!(d(&[0x08]), None);
        // V4 without its four octets; an octet left over; ASSOSI with spare bits set.
        assert_eq!(d(&[0x01, 10, 0, 0]), None);
        assert_eq!(d(&[0x00, 0]), None);
        assert_eq!(d(&[0x40, 0x11]), None);
        assert_eq!(d(&[0x40]), None);
        // ASSONI and ASSOSI: the last octet is the Source Interface, the rest the instance.
        let i = d(&[0x60, 3, b'i', b'm', b's', 0x02]).unwrap();
        assert_eq!(i.network_instance.as_deref(), Some(&b"\x03ims"[..]));
        assert_eq!(i.source_interface, Some(Interface::SGI_LAN_N6_LAN));
    }

    proptest! {
        /// Every (VID, backup VID) range of a describable layout holds exactly the TEIDs
        /// carrying those VIDs, and the IE's value round-trips.
        #[test]
        fn ranges_hold_their_vids_teids(
            w in 1u8..=3, with_backup in any::<bool>(), p in 1u16..128, b in 1u16..128,
            local in any::<u32>(), other in any::<u32>(), v4 in any::<Option<u32>>(),
            ni in any::<Option<Vec<u8>>>(), si in any::<Option<u8>>(), wide in 4u8..=7,
        ) {
            let w = if with_backup { w } else { wide };
            let l = VidLayout::teid32(w, if with_backup { w } else { 0 }).unwrap();
            let r = ranges(&l).unwrap();
            prop_assert_eq!(r.has_backup(), with_backup);
            let max = l.max_vid();
            let (p, b) = (VirtualId::new((p % max).max(1)).unwrap(), VirtualId::new((b % max).max(1)).unwrap());
            let b = with_backup.then_some(b);
            let mut info = r.info(p, b, v4.map(Ipv4Addr::from), None).unwrap();
            let wrong = if with_backup { None } else { Some(p) };
            prop_assert!(r.info(p, wrong, None, None).is_none());
            let teid = l.compose(p, b, local & l.max_local()).unwrap();
            prop_assert!(info.contains(teid));
            prop_assert_eq!(
                info.contains(other),
                l.primary(other) == Some(p) && (!with_backup || l.backup(other) == b)
            );
            info.network_instance = ni.map(Cow::Owned);
            info.source_interface = si.map(|s| Interface(s & 0x0f));
            prop_assert!(info.is_valid());
            let v = enc(&info);
            prop_assert_eq!(v.len(), info.value_len());
            prop_assert_eq!(UpIpResourceInformation::decode(&v), Some(info));
        }

        /// Decoding never panics, and what decodes re-encodes to the same octets.
        #[test]
        fn decode_takes_any_octets(v in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Some(info) = UpIpResourceInformation::decode(&v) {
                prop_assert!(info.is_valid());
                prop_assert_eq!(enc(&info), v);
            }
        }
    }
}
