//! UE address slices: the UE address pool cut by (VID, backup VID), so that a downlink packet
//! (an IP packet to a UE, arriving on the SGi / N6 side) is steered by its destination address
//! with the same [`VidTable`](super::line::VidTable) and the same failover as an uplink packet
//! by its TEID.
//!
//! # Why a slice per (VID, backup VID)
//!
//! A TEID carries its processor's VID *and* its backup's, so when the primary is down the line
//! interface still knows where the session's state is. A UE address carrying only the primary
//! VID could not say where to go while the primary is down (the backup is chosen per session,
//! by load). So a [`UePool`] lays the same two fields into the address, right after the pool's
//! prefix, with the widths of the TEID [`VidLayout`]:
//!
//! ```text
//!  IPv4 UE address, pool 10.0.0.0/8, VidLayout::teid32(8, 8)
//!  31       24 23          16 15          8 7           0
//! +-----------+--------------+-------------+-------------+
//! |  pool /8  | primary VID  | backup VID  | local part  |
//! +-----------+--------------+-------------+-------------+
//!
//!  IPv6 UE prefix (one /64 per session, interface identifier 1), pool 2001:db8::/32
//!  127            96 95          88 87          80 79        64 63                0
//! +----------------+--------------+--------------+------------+-------------------+
//! |   pool /32     | primary VID  |  backup VID  | local part |  ::1              |
//! +----------------+--------------+--------------+------------+-------------------+
//! ```
//!
//! The local part of both is the session's local index, and the session's TEID is
//! `layout.compose(VID, backup VID, local index)` with that same index: a processor allocates
//! the index from the (own VID, backup VID) slice ([`UePool::max_local`] indexes per slice,
//! index 0 unused), so the address, the IPv6 prefix, the TEID and the PFCP SEID of a session all
//! carry the same VIDs and index, and a processor or its backup finds the session from any of
//! them. The local part has [`UePool::local_bits`] bits: the fewest of the TEID layout's local
//! part and what each pool leaves after the VID fields (the local part sits in the lowest bits
//! of the IPv4 address and of the IPv6 prefix's 64 bits, any bits between it and the VID fields
//! are zero).
//!
//! A full slice refuses the set-up with the protocol's cause: GTPv1 All dynamic PDP addresses
//! are occupied (211, TS 29.060 section 7.7.1), GTPv2-C All dynamic addresses are occupied (84,
//! TS 29.274 section 8.4), PFCP All dynamic addresses are occupied (79, TS 29.244 section
//! 8.2.1) when the CP function asked the UP function to choose the UE address, else No
//! resources available (75).
//!
//! The reads ([`UePool::vids_v4`], [`UePool::vids_v6`]) are the fast path's: a compare of the
//! prefix, two shifts and two masks.
//!
//! ```
//! use telcp::steering::ue_pool::UePool;
//! use telcp::steering::{VidLayout, VirtualId};
//! use std::net::Ipv4Addr;
//!
//! let pool = UePool::new(&VidLayout::default(), "10.0.0.0/8".parse().unwrap(), None).unwrap();
//! let (p, b) = (VirtualId::new(5).unwrap(), VirtualId::new(9).unwrap());
//! let ue = pool.address(p, Some(b), 17).unwrap();
//! assert_eq!(ue, Ipv4Addr::new(10, 5, 9, 17));
//! assert_eq!(pool.vids_v4(u32::from(ue)), Some((5, 9)));
//! assert_eq!(pool.slot_v4(ue), Some((p, Some(b), 17)));
//! assert_eq!(pool.vids_v4(u32::from(Ipv4Addr::new(192, 0, 2, 1))), None);
//! ```

use super::error::{ConfigError, ConfigField};
use super::vid::{VidLayout, VirtualId};
use ipnetwork::{Ipv4Network, Ipv6Network};
use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

/// One family's geometry: the pool's prefix in a `width`-bit key (the IPv4 address, or the top
/// 64 bits of an IPv6 address), the VID fields' shifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Geometry {
    /// The pool's prefix bits, in place.
    prefix: u64,
    /// The mask of the prefix bits.
    prefix_mask: u64,
    /// Shift of the primary field.
    pshift: u8,
    /// Shift of the backup field (meaningless without one).
    bshift: u8,
}

impl Geometry {
    /// The geometry of a pool of prefix length `len` in a `width`-bit key, or `None` when the
    /// VID fields (`fields` bits) and `local_bits` do not fit after the prefix.
    fn new(width: u8, network: u64, len: u8, vid_bits: u8, fields: u8, local: u8) -> Option<Self> {
        let left = width.checked_sub(len)?.checked_sub(fields)?;
        if left < local || local == 0 {
            return None;
        }
        let prefix_mask = if len == 0 {
            0
        } else {
            (u64::MAX << (64 - u32::from(len))) >> (64 - u32::from(width))
        };
        let pshift = width - len - vid_bits;
        Some(Geometry {
            prefix: network & prefix_mask,
            prefix_mask,
            pshift,
            bshift: pshift.saturating_sub(vid_bits),
        })
    }

    /// The room the pool leaves for the local part (`None`: not even the VID fields fit).
    fn room(width: u8, len: u8, fields: u8) -> Option<u8> {
        width.checked_sub(len)?.checked_sub(fields)
    }
}

/// The UE address pool(s) of a gateway, sliced by (VID, backup VID) (see the [module
/// documentation](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UePool {
    v4: Ipv4Network,
    v6: Option<Ipv6Network>,
    g4: Geometry,
    g6: Option<Geometry>,
    vid_bits: u8,
    backup: bool,
    local_bits: u8,
}

impl UePool {
    /// The local part a pool must leave at least (unless the TEID layout's is narrower, see
    /// [`UePool::min_local_bits`]): 4 bits, 15 sessions per (VID, backup VID) slice. A processor
    /// numbers its sessions from the slice of its own VID and the backup chosen for each, so a
    /// pool that left one bit (a /15 with the default layout) would refuse the second set-up of
    /// a slice with All dynamic PDP addresses are occupied (211, TS 29.060 section 7.7.1) while
    /// the pool is nearly empty: such a pool is refused when configured.
    ///
    /// This is a floor, not a sizing: a processor holds at most [`UePool::max_local`] sessions
    /// per backup VID in use, so with `n` processors at most `(n - 1) x max_local` sessions.
    /// Size the pool for that to reach the processors' `max_sessions`: with the default
    /// [`VidLayout`] (8 + 8 VID bits), a /8 gives 255 sessions per slice, a /12 only 15.
    pub const MIN_LOCAL_BITS: u8 = 4;

    /// The slices of `v4` (and of `v6`, a pool of /64 prefixes, when given) for the VIDs of the
    /// 32-bit TEID `layout`: VID fields as wide as the layout's, a backup field when the layout
    /// has one.
    ///
    /// Errors: [`ConfigError::PoolTooSmall`] naming [`ConfigField::UePool`] or
    /// [`ConfigField::UePoolV6`] and the longest prefix that would do, when a pool leaves fewer
    /// than [`UePool::min_local_bits`] for the local part after the VID fields (with the default
    /// [`VidLayout`], 8 + 8 VID bits: an IPv4 pool longer than /12, an IPv6 pool longer than
    /// /44); [`ConfigError::LayoutWidth`] for a layout that is not 32 bits wide.
    ///
    /// ```
    /// use telcp::steering::ue_pool::UePool;
    /// use telcp::steering::{ConfigError, ConfigField, VidLayout};
    ///
    /// let layout = VidLayout::default();
    /// let pool = UePool::new(&layout, "10.0.0.0/8".parse().unwrap(), None).unwrap();
    /// assert_eq!(pool.max_local(), 255); // sessions per (VID, backup VID) slice
    /// assert_eq!(
    ///     UePool::new(&layout, "10.0.0.0/15".parse().unwrap(), None),
    ///     Err(ConfigError::PoolTooSmall { field: ConfigField::UePool, prefix: 15, longest: 12 })
    /// );
    /// ```
    pub fn new(
        layout: &VidLayout,
        v4: Ipv4Network,
        v6: Option<Ipv6Network>,
    ) -> Result<UePool, ConfigError> {
        if layout.id_bits() != 32 {
            return Err(ConfigError::LayoutWidth {
                field: ConfigField::Layout,
                bits: 32,
            });
        }
        let vid_bits = layout.primary_field().width;
        let backup = layout.backup_field().is_some();
        let fields = vid_bits * if backup { 2 } else { 1 };
        let v6_prefix = v6.map_or(0, |n| n.prefix());
        let need = UePool::min_local_bits(layout);
        let too_small = |field, width: u8, prefix: u8| ConfigError::PoolTooSmall {
            field,
            prefix,
            longest: width.saturating_sub(fields).saturating_sub(need),
        };
        let too_small4 = || too_small(ConfigField::UePool, 32, v4.prefix());
        let too_small6 = || too_small(ConfigField::UePoolV6, 64, v6_prefix);
        let room4 = Geometry::room(32, v4.prefix(), fields)
            .filter(|r| *r >= need)
            .ok_or_else(too_small4)?;
        let room6 = match v6 {
            Some(n) => Some(
                Geometry::room(64, n.prefix(), fields)
                    .filter(|r| *r >= need)
                    .ok_or_else(too_small6)?,
            ),
            None => None,
        };
        let local = layout.local_bits().min(room4).min(room6.unwrap_or(u8::MAX));
        if local == 0 {
            return Err(too_small4());
        }
        let g4 = Geometry::new(
            32,
            u64::from(u32::from(v4.network())),
            v4.prefix(),
            vid_bits,
            fields,
            local,
        )
        .ok_or_else(too_small4)?;
        let g6 = match v6 {
            Some(n) => Some(
                Geometry::new(
                    64,
                    (u128::from(n.network()) >> 64) as u64,
                    n.prefix(),
                    vid_bits,
                    fields,
                    local,
                )
                .ok_or_else(too_small6)?,
            ),
            None => None,
        };
        Ok(UePool {
            v4,
            v6,
            g4,
            g6,
            vid_bits,
            backup,
            local_bits: local,
        })
    }

    /// Whether the pool was sliced for `layout`'s VID fields (the check a line interface makes
    /// of its configuration): [`ConfigError::OutOfRange`] naming [`ConfigField::UePool`] when
    /// not.
    pub fn check_layout(&self, layout: &VidLayout) -> Result<(), ConfigError> {
        let same = self.vid_bits == layout.primary_field().width
            && self.backup == layout.backup_field().is_some()
            && self.local_bits <= layout.local_bits();
        if same {
            Ok(())
        } else {
            Err(ConfigError::OutOfRange(ConfigField::UePool))
        }
    }

    /// The IPv4 pool.
    pub fn v4(&self) -> Ipv4Network {
        self.v4
    }

    /// The IPv6 pool, if any.
    pub fn v6(&self) -> Option<Ipv6Network> {
        self.v6
    }

    /// The width of each VID field in an address (the TEID layout's).
    pub fn vid_bits(&self) -> u8 {
        self.vid_bits
    }

    /// Whether addresses carry a backup VID field.
    pub fn has_backup(&self) -> bool {
        self.backup
    }

    /// The bits of the local part.
    pub fn local_bits(&self) -> u8 {
        self.local_bits
    }

    /// The fewest local bits a pool must leave after the VID fields for `layout`:
    /// [`UePool::MIN_LOCAL_BITS`], or the layout's own local part when that is narrower (a
    /// slice cannot hold more sessions than the TEIDs can number).
    pub fn min_local_bits(layout: &VidLayout) -> u8 {
        UePool::MIN_LOCAL_BITS.min(layout.local_bits()).max(1)
    }

    /// The largest local index of a slice (`2^local_bits - 1`; index 0 is never allocated, so a
    /// slice holds this many sessions).
    pub fn max_local(&self) -> u32 {
        u32::try_from((1u64 << self.local_bits) - 1).unwrap_or(u32::MAX)
    }

    #[inline(always)]
    fn field_mask(&self) -> u64 {
        (1u64 << self.vid_bits) - 1
    }

    #[inline(always)]
    fn vids(&self, g: &Geometry, key: u64) -> Option<(u16, u16)> {
        if key & g.prefix_mask != g.prefix {
            return None;
        }
        let m = self.field_mask();
        let p = ((key >> g.pshift) & m) as u16;
        let b = if self.backup {
            ((key >> g.bshift) & m) as u16
        } else {
            0
        };
        Some((p, b))
    }

    /// The raw (primary, backup) VID fields of the IPv4 address `addr` (host order), `None`
    /// when it is outside the pool. A field of 0 names no VID.
    #[inline(always)]
    pub fn vids_v4(&self, addr: u32) -> Option<(u16, u16)> {
        self.vids(&self.g4, u64::from(addr))
    }

    /// The IPv4 pool's prefix (host order), its mask, the primary field's shift and the field's
    /// mask: an address `a` is in the pool when `a & mask == prefix`, and its primary field is
    /// then `(a >> shift) & field` (what [`UePool::vids_v4`] reads, for a batch fast path).
    pub(crate) fn v4_primary(&self) -> (u32, u32, u32, u32) {
        let g = &self.g4;
        (
            g.prefix as u32,
            g.prefix_mask as u32,
            u32::from(g.pshift),
            self.field_mask() as u32,
        )
    }

    /// The raw (primary, backup) VID fields of the IPv6 address whose top 64 bits are `top`,
    /// `None` without an IPv6 pool or outside it.
    #[inline(always)]
    pub fn vids_v6(&self, top: u64) -> Option<(u16, u16)> {
        self.vids(self.g6.as_ref()?, top)
    }

    fn compose(
        &self,
        g: &Geometry,
        vid: VirtualId,
        backup: Option<VirtualId>,
        local: u32,
    ) -> Option<u64> {
        let m = self.field_mask();
        if u64::from(vid.get()) > m || local == 0 || local > self.max_local() {
            return None;
        }
        let b = match backup {
            Some(b) if !self.backup || u64::from(b.get()) > m => return None,
            Some(b) => u64::from(b.get()) << g.bshift,
            None => 0,
        };
        Some(g.prefix | u64::from(vid.get()) << g.pshift | b | u64::from(local))
    }

    /// The IPv4 address of slice (`vid`, `backup`) at `local` (1 to [`UePool::max_local`]);
    /// `None` when a VID does not fit its field, `backup` is given to a pool without a backup
    /// field, or `local` is out of range.
    pub fn address(
        &self,
        vid: VirtualId,
        backup: Option<VirtualId>,
        local: u32,
    ) -> Option<Ipv4Addr> {
        let key = self.compose(&self.g4, vid, backup, local)?;
        Some(Ipv4Addr::from(u32::try_from(key).ok()?))
    }

    /// The IPv6 address (interface identifier 1) of the /64 of slice (`vid`, `backup`) at
    /// `local`; `None` without an IPv6 pool or as [`UePool::address`].
    pub fn address_v6(
        &self,
        vid: VirtualId,
        backup: Option<VirtualId>,
        local: u32,
    ) -> Option<Ipv6Addr> {
        let top = self.compose(self.g6.as_ref()?, vid, backup, local)?;
        Some(Ipv6Addr::from(u128::from(top) << 64 | 1))
    }

    fn slot(&self, g: &Geometry, key: u64) -> Option<(VirtualId, Option<VirtualId>, u32)> {
        let (p, b) = self.vids(g, key)?;
        let local = u32::try_from(key & ((1u64 << self.local_bits) - 1)).ok()?;
        // Bits between the VID fields and the local part are zero in every allocated address.
        let fields = self.vid_bits * if self.backup { 2 } else { 1 };
        let low = if self.backup { g.bshift } else { g.pshift };
        let gap = ((1u64 << low) - 1) & !((1u64 << self.local_bits) - 1);
        if key & gap != 0 || local == 0 || fields == 0 {
            return None;
        }
        Some((VirtualId::new(p)?, VirtualId::new(b), local))
    }

    /// The (VID, backup VID, local index) an allocated IPv4 address carries, `None` for an
    /// address outside the pool or no allocation could have made.
    pub fn slot_v4(&self, addr: Ipv4Addr) -> Option<(VirtualId, Option<VirtualId>, u32)> {
        self.slot(&self.g4, u64::from(u32::from(addr)))
    }

    /// The (VID, backup VID, local index) the /64 of an allocated IPv6 address carries.
    pub fn slot_v6(&self, addr: Ipv6Addr) -> Option<(VirtualId, Option<VirtualId>, u32)> {
        self.slot(self.g6.as_ref()?, (u128::from(addr) >> 64) as u64)
    }

    /// The IPv4 prefix of slice (`vid`, `backup`): the pool's prefix with the VID fields (the
    /// backup field 0 for `None`), `None` when a VID does not fit. What kernel and NIC rules
    /// match ([`crate::steering::rules::UePrefix`]).
    pub fn slice_v4(&self, vid: VirtualId, backup: Option<VirtualId>) -> Option<Ipv4Network> {
        let key = self.compose(&self.g4, vid, backup, 1)? & !1;
        let fields = self.vid_bits * if self.backup { 2 } else { 1 };
        let len = self.v4.prefix() + fields;
        let key = u32::try_from(key).ok()?;
        Ipv4Network::new(Ipv4Addr::from(key), len).ok()
    }
}

impl UePool {
    /// The IPv6 prefix of slice (`vid`, `backup`): the IPv6 pool's prefix with the VID fields
    /// (the backup field 0 for `None`); `None` without an IPv6 pool or when a VID does not fit.
    pub fn slice_v6(&self, vid: VirtualId, backup: Option<VirtualId>) -> Option<Ipv6Network> {
        let v6 = self.v6?;
        let top = self.compose(self.g6.as_ref()?, vid, backup, 1)? & !1;
        let fields = self.vid_bits * if self.backup { 2 } else { 1 };
        Ipv6Network::new(Ipv6Addr::from(u128::from(top) << 64), v6.prefix() + fields).ok()
    }

    /// The IPv6 prefix of the slices of primary VID `vid` (all backup VIDs).
    pub fn vid_prefix_v6(&self, vid: VirtualId) -> Option<Ipv6Network> {
        let v6 = self.v6?;
        let top = self.compose(self.g6.as_ref()?, vid, None, 1)? & !1;
        Ipv6Network::new(
            Ipv6Addr::from(u128::from(top) << 64),
            v6.prefix() + self.vid_bits,
        )
        .ok()
    }

    /// The IPv4 prefix of the slices of primary VID `vid` (all backup VIDs): the pool's prefix
    /// with the primary field.
    pub fn vid_prefix_v4(&self, vid: VirtualId) -> Option<Ipv4Network> {
        let key = self.compose(&self.g4, vid, None, 1)? & !1;
        let len = self.v4.prefix() + self.vid_bits;
        Ipv4Network::new(Ipv4Addr::from(u32::try_from(key).ok()?), len).ok()
    }

    /// The downlink rules' prefixes ([`crate::steering::rules::RuleSet::new`]) that steer the
    /// IPv4 pool as [`VidTable::steer_downlink`](super::line::VidTable::steer_downlink) does with
    /// `table`: for each assigned VID `p`, the prefix of its slices ([`UePool::vid_prefix_v4`],
    /// to `p`, leaving packets to the host while `p` is Down) and, when addresses carry a backup
    /// field, for each other assigned VID `b`, the longer prefix of slice (`p`, `b`)
    /// ([`UePool::slice_v4`], to `p`, to `b` while `p` is Down); with an IPv6 pool, the same
    /// for its /64 prefixes ([`UePool::vid_prefix_v6`], [`UePool::slice_v6`]). `n` assigned
    /// VIDs give `n²` prefixes per family (at most [`crate::steering::rules::MAX_PREFIXES`] in
    /// a rule set: 63 VIDs for one family, 44 for two). A packet these rules steer goes where
    /// `steer_downlink` sends it, and every packet to the pools that `steer_downlink` sends to a
    /// processor is steered by one of them.
    pub fn rule_prefixes(&self, table: &super::line::VidTable) -> Vec<super::rules::UePrefix> {
        use super::rules::UePrefix;
        use ipnetwork::IpNetwork;
        let vids: Vec<VirtualId> = table.entries().map(|e| e.vid).collect();
        let mut out = Vec::new();
        type Whole<'a> = &'a dyn Fn(VirtualId) -> Option<IpNetwork>;
        type Slice<'a> = &'a dyn Fn(VirtualId, VirtualId) -> Option<IpNetwork>;
        let families: [(Whole<'_>, Slice<'_>); 2] = [
            (&|p| self.vid_prefix_v4(p).map(IpNetwork::from), &|p, b| {
                self.slice_v4(p, Some(b)).map(IpNetwork::from)
            }),
            (&|p| self.vid_prefix_v6(p).map(IpNetwork::from), &|p, b| {
                self.slice_v6(p, Some(b)).map(IpNetwork::from)
            }),
        ];
        for (whole, slice) in families {
            for &p in &vids {
                out.extend(whole(p).map(|prefix| UePrefix {
                    prefix,
                    vid: p,
                    backup: None,
                }));
                if !self.backup {
                    continue;
                }
                for &b in vids.iter().filter(|b| **b != p) {
                    out.extend(slice(p, b).map(|prefix| UePrefix {
                        prefix,
                        vid: p,
                        backup: Some(b),
                    }));
                }
            }
        }
        out
    }
}

/// A processor's allocation of local indexes, one counter and free set per backup VID (its
/// own VID is fixed), each bounded by [`UePool::max_local`]. Fresh indexes are handed out first
/// and a released one only when the slice has no fresh index left, so a TEID, SEID or UE address
/// is not reused while late packets of its old session may still arrive. An index a peer chose
/// (a CP-allocated F-TEID, [`Slices::claim`]) beyond the counter is remembered apart and skipped
/// when the counter reaches it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slices {
    next: HashMap<u16, u32>,
    free: HashMap<u16, BTreeSet<u32>>,
    claimed: HashMap<u16, BTreeSet<u32>>,
}

impl Slices {
    /// A free local index of the slice of `backup` (raw, 0 for none), `None` when all
    /// `max_local` are taken.
    pub(crate) fn allocate(&mut self, backup: u16, max_local: u32) -> Option<u32> {
        let next = self.next.entry(backup).or_insert(1);
        let claimed = self.claimed.entry(backup).or_default();
        // Indexes claimed ahead of the counter are issued already: step over them.
        while *next != 0 && claimed.remove(next) {
            *next = next.wrapping_add(1);
        }
        if *next <= max_local && *next != 0 {
            let l = *next;
            *next += 1;
            return Some(l);
        }
        self.free.get_mut(&backup).and_then(BTreeSet::pop_first)
    }

    /// Takes the index `local` (1 to `max_local`) of the slice of `backup` a peer chose; `false`
    /// when it is out of range or taken.
    pub(crate) fn claim(&mut self, backup: u16, local: u32, max_local: u32) -> bool {
        if local == 0 || local > max_local {
            return false;
        }
        let next = *self.next.entry(backup).or_insert(1);
        if local < next {
            self.free.get_mut(&backup).is_some_and(|f| f.remove(&local))
        } else {
            self.claimed.entry(backup).or_default().insert(local)
        }
    }

    /// Gives `local` of the slice of `backup` back (an index never issued, or already free, is
    /// ignored).
    pub(crate) fn release(&mut self, backup: u16, local: u32) {
        if self
            .claimed
            .get_mut(&backup)
            .is_some_and(|c| c.remove(&local))
        {
            return;
        }
        let issued = self
            .next
            .get(&backup)
            .is_some_and(|n| local != 0 && local < *n);
        if issued {
            self.free.entry(backup).or_default().insert(local);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(n: u16) -> VirtualId {
        VirtualId::new(n).unwrap()
    }

    #[test]
    fn ipv6_slices_follow_the_picture() {
        let pool = UePool::new(
            &VidLayout::default(),
            "10.0.0.0/8".parse().unwrap(),
            Some("2001:db8::/32".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(pool.local_bits(), 8);
        let a = pool.address_v6(v(5), Some(v(9)), 17).unwrap();
        assert_eq!(a, "2001:db8:509:11::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(pool.slot_v6(a), Some((v(5), Some(v(9)), 17)));
        assert_eq!(pool.vids_v6((u128::from(a) >> 64) as u64), Some((5, 9)));
        assert_eq!(
            pool.slice_v4(v(5), Some(v(9))),
            Some("10.5.9.0/24".parse().unwrap())
        );
    }

    #[test]
    fn pools_too_small_are_refused() {
        let l = VidLayout::default();
        assert_eq!(
            UePool::new(&l, "10.0.0.0/16".parse().unwrap(), None),
            Err(ConfigError::PoolTooSmall {
                field: ConfigField::UePool,
                prefix: 16,
                longest: 12
            })
        );
        assert_eq!(
            UePool::new(
                &l,
                "10.0.0.0/8".parse().unwrap(),
                Some("2001:db8::/48".parse().unwrap())
            ),
            Err(ConfigError::PoolTooSmall {
                field: ConfigField::UePoolV6,
                prefix: 48,
                longest: 44
            })
        );
        assert_eq!(
            UePool::new(
                &l,
                "10.0.0.0/8".parse().unwrap(),
                Some("2001:db8::/96".parse().unwrap())
            ),
            Err(ConfigError::PoolTooSmall {
                field: ConfigField::UePoolV6,
                prefix: 96,
                longest: 44
            })
        );
    }

    /// TS 29.060 section 7.7.1: All dynamic PDP addresses are occupied (211) says the pool is
    /// exhausted. A pool sliced so thin that one slice holds a single session (a /15 with the
    /// default 8 + 8 VID bits leaves one local bit) would give that answer on the second set-up
    /// of a slice while nearly every address is free; it is refused when configured, naming the
    /// longest prefix that leaves [`UePool::MIN_LOCAL_BITS`], and a pool that passes numbers
    /// at least 15 sessions in each slice.
    #[test]
    fn a_pool_leaving_slices_of_fewer_than_15_sessions_is_refused_at_configuration() {
        let l = VidLayout::default();
        for len in [13u8, 15] {
            let net = Ipv4Network::new(Ipv4Addr::new(10, 0, 0, 0), len).unwrap();
            assert_eq!(
                UePool::new(&l, net, None),
                Err(ConfigError::PoolTooSmall {
                    field: ConfigField::UePool,
                    prefix: len,
                    longest: 12
                })
            );
        }
        let pool = UePool::new(&l, "10.0.0.0/12".parse().unwrap(), None).unwrap();
        assert_eq!((pool.local_bits(), pool.max_local()), (4, 15));
        let mut s = Slices::default();
        for i in 1..=15 {
            assert_eq!(s.allocate(9, pool.max_local()), Some(i));
        }
        assert_eq!(s.allocate(9, pool.max_local()), None);
        let pool = UePool::new(&l, "10.0.0.0/8".parse().unwrap(), None).unwrap();
        assert_eq!(pool.max_local(), 255);
        // A layout whose TEIDs number fewer sessions per slice asks no more of the pool.
        let narrow = VidLayout::teid32(15, 15).unwrap();
        assert_eq!(UePool::min_local_bits(&narrow), 2);
        let pool = UePool::new(&narrow, "0.0.0.0/0".parse().unwrap(), None).unwrap();
        assert_eq!(pool.max_local(), 3);
    }

    #[test]
    fn a_slice_is_bounded_and_gives_back() {
        let mut s = Slices::default();
        assert_eq!(s.allocate(3, 2), Some(1));
        assert_eq!(s.allocate(3, 2), Some(2));
        assert_eq!(s.allocate(3, 2), None);
        assert_eq!(s.allocate(4, 2), Some(1));
        s.release(3, 2);
        s.release(3, 2);
        s.release(3, 7);
        assert_eq!(s.allocate(3, 2), Some(2));
        assert_eq!(s.allocate(3, 2), None);
    }

    #[test]
    fn claimed_indexes_are_never_handed_out_twice() {
        let mut s = Slices::default();
        assert!(!s.claim(1, 0, 9) && !s.claim(1, 10, 9));
        // Ahead of the counter: skipped by allocate, claimable once.
        assert!(s.claim(1, 2, 9));
        assert!(!s.claim(1, 2, 9));
        assert_eq!(s.allocate(1, 9), Some(1));
        assert_eq!(s.allocate(1, 9), Some(3));
        // Behind the counter: only a released index.
        assert!(!s.claim(1, 1, 9));
        s.release(1, 1);
        assert!(s.claim(1, 1, 9));
        // A claimed index released before the counter reached it is fresh again.
        assert!(s.claim(1, 7, 9));
        s.release(1, 7);
        assert!(s.claim(1, 7, 9));
        // Released after the counter passed it: free, and handed out again.
        s.release(1, 2);
        assert!(s.claim(1, 2, 9));
    }

    proptest! {
        /// Any layout, any pool that fits: the address of (VID, backup, local) reads back as
        /// those fields, inside the pool; the TEID with the same fields carries the same VIDs.
        #[test]
        fn address_round_trips(
            vid_bits in 1u8..=8, with_backup in any::<bool>(), len in 0u8..=16,
            p in 1u16.., b in 1u16.., local in 1u32..,
        ) {
            let layout = VidLayout::teid32(vid_bits, if with_backup { vid_bits } else { 0 }).unwrap();
            let net = Ipv4Network::new(Ipv4Addr::new(10, 20, 30, 40), len).unwrap();
            let Ok(pool) = UePool::new(&layout, net, None) else { return Ok(()); };
            let p = v((p % layout.max_vid()).max(1));
            let b = with_backup.then(|| v((b % layout.max_vid()).max(1)));
            let local = (local % pool.max_local()).max(1);
            let a = pool.address(p, b, local).unwrap();
            prop_assert!(net.contains(a));
            prop_assert_eq!(pool.slot_v4(a), Some((p, b, local)));
            let teid = layout.compose(p, b, local).unwrap();
            prop_assert_eq!(
                pool.vids_v4(u32::from(a)),
                Some((layout.primary_raw(teid), layout.backup_raw(teid)))
            );
            prop_assert!(pool.slice_v4(p, b).unwrap().contains(a));
        }
    }
}
