//! Virtual identifiers and the bit layouts that carry them inside TEIDs and tunnel ids.
//!
//! A gateway made of several processors gives each processor a [`VirtualId`] (VID). A processor
//! allocates the identifiers its peers will put in every later packet of a session (GTP TEIDs,
//! L2TP tunnel and session ids) so that some of their bits carry its own VID and, optionally, the
//! VID of its backup processor. The line interface then steers a packet by reading those bits,
//! without any per-session table: the same idea as the TEID ranges of PFCP's User Plane IP
//! Resource Information (TS 29.244 section 8.2.82).
//!
//! A [`VidLayout`] says which bits are which:
//!
//! ```text
//!  32-bit TEID, VidLayout::teid32(8, 8)      (the default layout)
//!  31          24 23          16 15                          0
//! +--------------+--------------+-----------------------------+
//! | primary VID  |  backup VID  |  local part (per processor) |
//! +--------------+--------------+-----------------------------+
//!
//!  16-bit L2TP tunnel / session id, VidLayout::id16(4, 4)
//!  15    12 11     8 7              0
//! +--------+--------+----------------+
//! | primary| backup |   local part   |
//! +--------+--------+----------------+
//!
//!  64-bit PFCP SEID, VidLayout::seid64(8, 8)  (TS 29.244 section 8.2.37: the UP function's
//!  F-SEID, which the CP function puts in the header of every later session message)
//!  63          56 55          48 47                                                     0
//! +--------------+--------------+--------------------------------------------------------+
//! | primary VID  |  backup VID  |          local part (per processor, 48 bits)            |
//! +--------------+--------------+--------------------------------------------------------+
//! ```
//!
//! A processor gives a PFCP session the SEID `seid64.compose64(VID, backup VID, local)` and the
//! F-TEID `teid32.compose(VID, backup VID, local)` with the same local index, so the line
//! interface steers the session's PFCP messages (by the SEID) and its G-PDUs (by the TEID) to the
//! same processor, and the processor finds the session from either.
//!
//! Rules checked by [`VidLayout::new`]: the primary field is 1 to 16 bits wide; the backup field,
//! when present, has the same width and does not overlap it; at least one bit is left for the
//! local part; everything fits the identifier width (16, 32 or 64 bits). The local part is every bit
//! that is neither primary nor backup, filled from its least significant bit upwards. VID 0 is
//! reserved ("none"): since every identifier a processor allocates carries a non-zero primary VID,
//! it is never 0, which GTP (TEID 0), PFCP (SEID 0) and L2TP (id 0) reserve.
//!
//! ```
//! use telcp::steering::vid::{VidLayout, VirtualId};
//!
//! let layout = VidLayout::teid32(8, 8).unwrap();
//! let p = VirtualId::new(5).unwrap();
//! let b = VirtualId::new(9).unwrap();
//! let teid = layout.compose(p, Some(b), 0x1234).unwrap();
//! assert_eq!(teid, 0x0509_1234);
//! assert_eq!(layout.primary(teid), Some(p));
//! assert_eq!(layout.backup(teid), Some(b));
//! assert_eq!(layout.local(teid), 0x1234);
//! ```

use std::fmt;
use std::num::NonZeroU16;

/// The virtual identifier of a processor: a non-zero number at most [`VidLayout::max_vid`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VirtualId(NonZeroU16);

impl VirtualId {
    /// `None` for 0, which is reserved.
    pub const fn new(v: u16) -> Option<VirtualId> {
        match NonZeroU16::new(v) {
            Some(n) => Some(VirtualId(n)),
            None => None,
        }
    }

    /// The number.
    pub const fn get(self) -> u16 {
        self.0.get()
    }
}

impl fmt::Debug for VirtualId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VID{}", self.0)
    }
}

impl fmt::Display for VirtualId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A contiguous bit field: `width` bits starting at bit `shift` (bit 0 is the least significant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BitField {
    /// Position of the field's least significant bit.
    pub shift: u8,
    /// Number of bits.
    pub width: u8,
}

impl BitField {
    /// The field's bits as a mask (0 if the field does not fit 32 bits).
    pub const fn mask(self) -> u32 {
        if self.width == 0 || self.width as u32 + self.shift as u32 > 32 {
            return 0;
        }
        (u32::MAX >> (32 - self.width as u32)) << self.shift
    }

    /// The field's bits as a 64-bit mask (0 if the field does not fit 64 bits).
    pub const fn mask64(self) -> u64 {
        if self.width == 0 || self.width as u32 + self.shift as u32 > 64 {
            return 0;
        }
        (u64::MAX >> (64 - self.width as u32)) << self.shift
    }
}

/// One of the two VID fields of a [`VidLayout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VidField {
    /// The primary VID field (the processor serving the identifier).
    Primary,
    /// The backup VID field (the processor holding the replicated state).
    Backup,
}

impl fmt::Display for VidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VidField::Primary => "primary",
            VidField::Backup => "backup",
        })
    }
}

/// Why a layout or an identifier is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// The identifier width is not 16, 32 or 64 bits.
    #[error("identifier width {0} is not 16, 32 or 64 bits")]
    IdWidth(u8),
    /// A 32-bit operation ([`VidLayout::compose`]) on a 64-bit layout: use
    /// [`VidLayout::compose64`].
    #[error("a 64-bit layout composes 64-bit identifiers")]
    Wide,
    /// The primary field is not 1 to 16 bits wide.
    #[error("the primary VID field must be 1 to 16 bits wide, not {0}")]
    PrimaryWidth(u8),
    /// The backup field's width differs from the primary's.
    #[error("the backup VID field must be as wide as the primary one")]
    BackupWidth,
    /// A field goes past the identifier's width.
    #[error("the {0} field does not fit the identifier")]
    OutOfRange(VidField),
    /// The primary and backup fields share bits.
    #[error("the primary and backup fields overlap")]
    Overlap,
    /// No bit is left for the local part.
    #[error("no bit left for the local part")]
    NoLocalBits,
    /// A VID is larger than the field can carry.
    #[error("VID {vid} exceeds the layout's maximum {max}")]
    VidTooLarge {
        /// The VID.
        vid: u16,
        /// The largest VID the layout carries.
        max: u16,
    },
    /// A backup VID was given but the layout has no backup field.
    #[error("the layout has no backup field")]
    NoBackupField,
    /// A local value needs more bits than the local part has.
    #[error("local value {local} exceeds the local part's maximum {max}")]
    LocalTooLarge {
        /// The local value.
        local: u64,
        /// The largest local value.
        max: u64,
    },
}

/// Which bits of an identifier carry the primary VID, the backup VID and the local part.
///
/// See the [module documentation](self) for the picture and the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VidLayout {
    id_bits: u8,
    primary: BitField,
    backup: Option<BitField>,
    local_mask: u64,
    local_bits: u8,
}

impl VidLayout {
    /// A layout for `id_bits`-bit identifiers (16, 32 or 64) with the given fields.
    pub fn new(
        id_bits: u8,
        primary: BitField,
        backup: Option<BitField>,
    ) -> Result<VidLayout, LayoutError> {
        if id_bits != 16 && id_bits != 32 && id_bits != 64 {
            return Err(LayoutError::IdWidth(id_bits));
        }
        if primary.width == 0 || primary.width > 16 {
            return Err(LayoutError::PrimaryWidth(primary.width));
        }
        let fits = |f: BitField| u32::from(f.shift) + u32::from(f.width) <= u32::from(id_bits);
        if !fits(primary) {
            return Err(LayoutError::OutOfRange(VidField::Primary));
        }
        let id_mask = u64::MAX >> (64 - u32::from(id_bits));
        let mut used = primary.mask64();
        if let Some(b) = backup {
            if b.width != primary.width {
                return Err(LayoutError::BackupWidth);
            }
            if !fits(b) {
                return Err(LayoutError::OutOfRange(VidField::Backup));
            }
            if b.mask64() & used != 0 {
                return Err(LayoutError::Overlap);
            }
            used |= b.mask64();
        }
        let local_mask = id_mask & !used;
        if local_mask == 0 {
            return Err(LayoutError::NoLocalBits);
        }
        Ok(VidLayout {
            id_bits,
            primary,
            backup,
            local_mask,
            local_bits: u8::try_from(local_mask.count_ones()).unwrap_or(0),
        })
    }

    /// A 32-bit TEID layout: the primary VID in the top `vid_bits` bits, then (if `backup` is
    /// true) the backup VID in the next `vid_bits` bits, the local part below.
    pub fn teid32(vid_bits: u8, backup_bits: u8) -> Result<VidLayout, LayoutError> {
        Self::top_down(32, vid_bits, backup_bits)
    }

    /// A 64-bit layout for PFCP SEIDs (TS 29.244 section 8.2.37), laid out like
    /// [`VidLayout::teid32`]: the primary VID in bits 63 down, the backup VID below it, the local
    /// part in the remaining low bits (see the [module documentation](self) for the picture).
    /// Read and build its identifiers with the `*64` methods ([`VidLayout::primary64`],
    /// [`VidLayout::compose64`], ...).
    pub fn seid64(vid_bits: u8, backup_bits: u8) -> Result<VidLayout, LayoutError> {
        Self::top_down(64, vid_bits, backup_bits)
    }

    /// The SEID layout carrying the same VIDs as this layout: [`VidLayout::seid64`] with this
    /// layout's primary and backup widths (the steering machines derive their SEID layout from
    /// their TEID layout this way, so one VID table serves both).
    pub fn seid_layout(&self) -> VidLayout {
        let backup = self.backup.map_or(0, |b| b.width);
        // Widths are 1 to 16 bits, so the 64-bit layout always leaves local bits.
        Self::seid64(self.primary.width, backup).unwrap_or(*self)
    }

    /// A 16-bit layout for L2TP tunnel and session ids, laid out like [`VidLayout::teid32`].
    pub fn id16(vid_bits: u8, backup_bits: u8) -> Result<VidLayout, LayoutError> {
        Self::top_down(16, vid_bits, backup_bits)
    }

    fn top_down(id_bits: u8, vid_bits: u8, backup_bits: u8) -> Result<VidLayout, LayoutError> {
        let pshift = id_bits
            .checked_sub(vid_bits)
            .ok_or(LayoutError::OutOfRange(VidField::Primary))?;
        let backup = if backup_bits == 0 {
            None
        } else {
            Some(BitField {
                shift: pshift
                    .checked_sub(backup_bits)
                    .ok_or(LayoutError::OutOfRange(VidField::Backup))?,
                width: backup_bits,
            })
        };
        Self::new(
            id_bits,
            BitField {
                shift: pshift,
                width: vid_bits,
            },
            backup,
        )
    }

    /// The identifier width in bits (16, 32 or 64).
    pub fn id_bits(&self) -> u8 {
        self.id_bits
    }

    /// The primary VID field.
    pub fn primary_field(&self) -> BitField {
        self.primary
    }

    /// The backup VID field, if the layout has one.
    pub fn backup_field(&self) -> Option<BitField> {
        self.backup
    }

    /// The largest VID the layout carries (`2^width - 1`).
    pub fn max_vid(&self) -> u16 {
        u16::try_from((1u32 << self.primary.width) - 1).unwrap_or(u16::MAX)
    }

    /// The number of bits of the local part.
    pub fn local_bits(&self) -> u8 {
        self.local_bits
    }

    /// The largest local value (`2^local_bits - 1`), at most `u32::MAX` (a 64-bit layout's
    /// full range is [`VidLayout::max_local64`]).
    pub fn max_local(&self) -> u32 {
        u32::try_from(self.max_local64()).unwrap_or(u32::MAX)
    }

    /// The largest local value (`2^local_bits - 1`).
    pub fn max_local64(&self) -> u64 {
        if self.local_bits >= 64 {
            u64::MAX
        } else {
            (1u64 << self.local_bits) - 1
        }
    }

    /// The raw primary field of `id` (0 when it carries no VID; always 0 for a 64-bit layout,
    /// whose fields lie above bit 31). This is the fast path's read: a shift and a mask.
    #[inline(always)]
    pub fn primary_raw(&self, id: u32) -> u16 {
        self.primary_raw64(u64::from(id))
    }

    /// The primary VID `id` carries.
    #[inline]
    pub fn primary(&self, id: u32) -> Option<VirtualId> {
        VirtualId::new(self.primary_raw(id))
    }

    /// The raw backup field of `id` (0 when the layout has none or it carries none).
    #[inline(always)]
    pub fn backup_raw(&self, id: u32) -> u16 {
        self.backup_raw64(u64::from(id))
    }

    /// The backup VID `id` carries.
    #[inline]
    pub fn backup(&self, id: u32) -> Option<VirtualId> {
        VirtualId::new(self.backup_raw(id))
    }

    /// The raw primary field of a 64-bit identifier (a SEID; 0 when it carries no VID): a shift
    /// and a mask, as [`VidLayout::primary_raw`].
    #[inline(always)]
    pub fn primary_raw64(&self, id: u64) -> u16 {
        ((id >> self.primary.shift) & (self.primary.mask64() >> self.primary.shift)) as u16
    }

    /// The primary VID a 64-bit identifier carries.
    #[inline]
    pub fn primary64(&self, id: u64) -> Option<VirtualId> {
        VirtualId::new(self.primary_raw64(id))
    }

    /// The raw backup field of a 64-bit identifier (0 when the layout has none or it carries
    /// none).
    #[inline(always)]
    pub fn backup_raw64(&self, id: u64) -> u16 {
        match self.backup {
            Some(b) => ((id >> b.shift) & (b.mask64() >> b.shift)) as u16,
            None => 0,
        }
    }

    /// The backup VID a 64-bit identifier carries.
    #[inline]
    pub fn backup64(&self, id: u64) -> Option<VirtualId> {
        VirtualId::new(self.backup_raw64(id))
    }

    /// The local part of `id`, its bits gathered from least significant upwards.
    pub fn local(&self, id: u32) -> u32 {
        u32::try_from(self.local64(u64::from(id))).unwrap_or(u32::MAX)
    }

    /// The local part of a 64-bit identifier, its bits gathered from least significant upwards.
    pub fn local64(&self, id: u64) -> u64 {
        let mut out = 0u64;
        let mut bit = 0u32;
        let mut m = self.local_mask;
        while m != 0 {
            let low = m.trailing_zeros();
            if id & (1 << low) != 0 {
                out |= 1 << bit;
            }
            bit += 1;
            m &= m - 1;
        }
        out
    }

    /// Builds the identifier carrying `primary`, `backup` (when given) and `local`; a 64-bit
    /// layout refuses with [`LayoutError::Wide`] (see [`VidLayout::compose64`]).
    pub fn compose(
        &self,
        primary: VirtualId,
        backup: Option<VirtualId>,
        local: u32,
    ) -> Result<u32, LayoutError> {
        if self.id_bits > 32 {
            return Err(LayoutError::Wide);
        }
        let id = self.compose64(primary, backup, u64::from(local))?;
        u32::try_from(id).map_err(|_| LayoutError::Wide)
    }

    /// Builds the identifier (of any width) carrying `primary`, `backup` (when given) and
    /// `local`.
    pub fn compose64(
        &self,
        primary: VirtualId,
        backup: Option<VirtualId>,
        local: u64,
    ) -> Result<u64, LayoutError> {
        let max = self.max_vid();
        for v in std::iter::once(primary).chain(backup) {
            if v.get() > max {
                return Err(LayoutError::VidTooLarge { vid: v.get(), max });
            }
        }
        if local > self.max_local64() {
            return Err(LayoutError::LocalTooLarge {
                local,
                max: self.max_local64(),
            });
        }
        let mut id = u64::from(primary.get()) << self.primary.shift;
        if let Some(b) = backup {
            let field = self.backup.ok_or(LayoutError::NoBackupField)?;
            id |= u64::from(b.get()) << field.shift;
        }
        let mut m = self.local_mask;
        let mut bit = 0u32;
        while m != 0 {
            let low = m.trailing_zeros();
            if local & (1 << bit) != 0 {
                id |= 1 << low;
            }
            bit += 1;
            m &= m - 1;
        }
        Ok(id)
    }
}

impl Default for VidLayout {
    /// [`VidLayout::teid32`]`(8, 8)`: 255 processors, a backup VID, 65 536 local ids each.
    fn default() -> Self {
        VidLayout {
            id_bits: 32,
            primary: BitField {
                shift: 24,
                width: 8,
            },
            backup: Some(BitField {
                shift: 16,
                width: 8,
            }),
            local_mask: 0xffff,
            local_bits: 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_matches_constructor() {
        assert_eq!(VidLayout::default(), VidLayout::teid32(8, 8).unwrap());
    }

    #[test]
    fn refuses_bad_layouts() {
        let f = |shift, width| BitField { shift, width };
        assert_eq!(
            VidLayout::new(24, f(0, 4), None),
            Err(LayoutError::IdWidth(24))
        );
        assert_eq!(
            VidLayout::new(32, f(0, 0), None),
            Err(LayoutError::PrimaryWidth(0))
        );
        assert_eq!(
            VidLayout::new(32, f(0, 17), None),
            Err(LayoutError::PrimaryWidth(17))
        );
        assert_eq!(
            VidLayout::new(16, f(10, 8), None),
            Err(LayoutError::OutOfRange(VidField::Primary))
        );
        assert_eq!(
            VidLayout::new(32, f(0, 8), Some(f(4, 8))),
            Err(LayoutError::Overlap)
        );
        assert_eq!(
            VidLayout::new(32, f(0, 8), Some(f(8, 4))),
            Err(LayoutError::BackupWidth)
        );
        assert_eq!(
            VidLayout::new(16, f(8, 8), Some(f(0, 8))),
            Err(LayoutError::NoLocalBits)
        );
        assert_eq!(VidLayout::id16(16, 0), Err(LayoutError::NoLocalBits));
        assert!(VidLayout::id16(17, 0).is_err());
    }

    #[test]
    fn refuses_bad_values() {
        let l = VidLayout::id16(4, 4).unwrap();
        let v = |n| VirtualId::new(n).unwrap();
        assert_eq!(
            l.compose(v(16), None, 0),
            Err(LayoutError::VidTooLarge { vid: 16, max: 15 })
        );
        assert_eq!(
            l.compose(v(1), None, 256),
            Err(LayoutError::LocalTooLarge {
                local: 256,
                max: 255
            })
        );
        let nb = VidLayout::teid32(8, 0).unwrap();
        assert_eq!(
            nb.compose(v(1), Some(v(2)), 0),
            Err(LayoutError::NoBackupField)
        );
        assert_eq!(VirtualId::new(0), None);
    }

    #[test]
    fn l2tp_16_bit_layout() {
        let l = VidLayout::id16(4, 4).unwrap();
        let v = |n| VirtualId::new(n).unwrap();
        let id = l.compose(v(3), Some(v(7)), 0xab).unwrap();
        assert_eq!(id, 0x37ab);
        assert_eq!(
            (l.primary(id), l.backup(id), l.local(id)),
            (Some(v(3)), Some(v(7)), 0xab)
        );
    }

    /// The SEID layout's bit positions, as the module documentation draws them: primary VID in
    /// bits 63..56, backup VID in 55..48, the local part in 47..0.
    #[test]
    fn seid_64_bit_layout() {
        let l = VidLayout::seid64(8, 8).unwrap();
        let v = |n| VirtualId::new(n).unwrap();
        assert_eq!(l.id_bits(), 64);
        assert_eq!(
            l.primary_field(),
            BitField {
                shift: 56,
                width: 8
            }
        );
        assert_eq!(
            l.backup_field(),
            Some(BitField {
                shift: 48,
                width: 8
            })
        );
        assert_eq!(l.local_bits(), 48);
        assert_eq!(l.max_local64(), (1 << 48) - 1);
        assert_eq!(l.max_local(), u32::MAX);
        let seid = l.compose64(v(5), Some(v(9)), 0xab_cdef_1234).unwrap();
        assert_eq!(seid, 0x0509_00ab_cdef_1234);
        assert_eq!(l.primary64(seid), Some(v(5)));
        assert_eq!(l.backup64(seid), Some(v(9)));
        assert_eq!(l.local64(seid), 0xab_cdef_1234);
        // The same VIDs and local index in the TEID layout: the same processor steers both.
        let teid = VidLayout::default()
            .compose(v(5), Some(v(9)), 0x1234)
            .unwrap();
        assert_eq!(teid, 0x0509_1234);
        // The 32-bit reads see no VID in a 64-bit layout, and compose refuses.
        assert_eq!(l.primary(u32::MAX), None);
        assert_eq!(l.compose(v(5), None, 1), Err(LayoutError::Wide));
        assert_eq!(
            l.compose64(v(5), None, 1 << 48),
            Err(LayoutError::LocalTooLarge {
                local: 1 << 48,
                max: (1 << 48) - 1
            })
        );
        assert_eq!(
            l.compose64(v(256), None, 0),
            Err(LayoutError::VidTooLarge { vid: 256, max: 255 })
        );
        assert_eq!(VidLayout::default().seid_layout(), l);
        assert_eq!(
            VidLayout::teid32(6, 0).unwrap().seid_layout(),
            VidLayout::seid64(6, 0).unwrap()
        );
        // Without a backup field, all 56 low bits are local.
        let nb = VidLayout::seid64(8, 0).unwrap();
        assert_eq!(nb.local_bits(), 56);
        assert_eq!(
            nb.compose64(v(1), Some(v(2)), 0),
            Err(LayoutError::NoBackupField)
        );
        assert_eq!(VidLayout::seid64(17, 0), Err(LayoutError::PrimaryWidth(17)));
        assert_eq!(
            VidLayout::new(
                64,
                BitField {
                    shift: 60,
                    width: 8
                },
                None
            ),
            Err(LayoutError::OutOfRange(VidField::Primary))
        );
        assert_eq!(
            VidLayout::new(48, BitField { shift: 0, width: 8 }, None),
            Err(LayoutError::IdWidth(48))
        );
    }

    proptest! {
        #[test]
        fn seid_compose_then_split(
            vb in 1u8..=16, with_backup in any::<bool>(),
            p in 1u16.., b in 1u16.., local in any::<u64>(),
        ) {
            let l = VidLayout::seid64(vb, if with_backup { vb } else { 0 }).unwrap();
            let p = VirtualId::new((p % l.max_vid()).max(1)).unwrap();
            let b = with_backup.then(|| VirtualId::new((b % l.max_vid()).max(1)).unwrap());
            let local = local & l.max_local64();
            let seid = l.compose64(p, b, local).unwrap();
            prop_assert!(seid != 0);
            prop_assert_eq!(seid >> (64 - u32::from(vb)), u64::from(p.get()));
            prop_assert_eq!(l.primary64(seid), Some(p));
            prop_assert_eq!(l.backup64(seid), b);
            prop_assert_eq!(l.local64(seid), local);
        }

        #[test]
        fn compose_then_split(
            id16 in any::<bool>(),
            shift in 0u8..32, width in 1u8..=16, bshift in 0u8..32, with_backup in any::<bool>(),
            p in 1u16.., b in 1u16.., local in any::<u32>(),
        ) {
            let id_bits = if id16 { 16 } else { 32 };
            let primary = BitField { shift, width };
            let backup = with_backup.then_some(BitField { shift: bshift, width });
            let Ok(l) = VidLayout::new(id_bits, primary, backup) else { return Ok(()); };
            let p = VirtualId::new((p % (l.max_vid())).max(1)).unwrap();
            let b = with_backup.then(|| VirtualId::new((b % l.max_vid()).max(1)).unwrap());
            let local = local & l.max_local();
            let id = l.compose(p, b, local).unwrap();
            prop_assert!(id != 0);
            prop_assert!(!id16 || id <= 0xffff);
            prop_assert_eq!(l.primary(id), Some(p));
            prop_assert_eq!(l.backup(id), b);
            prop_assert_eq!(l.local(id), local);
        }
    }
}
