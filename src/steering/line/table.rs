//! The steering table and its fast path: [`VidTable::steer`] and [`VidTable::steer_port`] (see
//! the [parent module](super) for the decisions).

use crate::l2tp::L2TP_PORT;
use crate::steering::fabric::{TableEntry, VidState};
use crate::steering::gtp::{GTP_C_PORT, GTP_U_PORT};
use crate::steering::pfcp::PFCP_PORT;
use crate::steering::ue_pool::UePool;
use crate::steering::vid::{VidLayout, VirtualId};
use std::net::SocketAddr;

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Neither GTPv1 nor L2TPv2, or too short to hold the identifier.
    Malformed,
    /// A user packet (G-PDU, L2TP data) with identifier 0.
    ZeroId,
    /// The identifier's primary VID is not assigned to any processor.
    UnknownVid,
    /// The primary processor is down and the identifier names no operational backup.
    ProcessorDown,
    /// An L2TP packet, but no 16-bit layout is configured.
    L2tpDisabled,
    /// A downlink IP packet whose destination is in no UE pool the table steers (or no pool is
    /// configured).
    NotInPool,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 6] = [
        DropReason::Malformed,
        DropReason::ZeroId,
        DropReason::UnknownVid,
        DropReason::ProcessorDown,
        DropReason::L2tpDisabled,
        DropReason::NotInPool,
    ];

    pub(super) fn index(self) -> usize {
        match self {
            DropReason::Malformed => 0,
            DropReason::ZeroId => 1,
            DropReason::UnknownVid => 2,
            DropReason::ProcessorDown => 3,
            DropReason::L2tpDisabled => 4,
            DropReason::NotInPool => 5,
        }
    }
}

/// Where a packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// To the switch processor (a set-up request or path management).
    Switch,
    /// To the processor holding `vid`; `backup` is true when it is the session's backup, because
    /// the primary is down.
    Processor {
        /// The VID steered to.
        vid: VirtualId,
        /// Whether this is the backup.
        backup: bool,
    },
    /// Dropped.
    Drop(DropReason),
}

const UNASSIGNED: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// The mark, in [`VidTable`]'s per-primary verdicts, of a primary field that does not decide
/// alone: a Down VID (its backup field decides) and 0 (no VID: an identifier of 0 is a set-up or
/// a drop, a non-zero one with a primary field of 0 is unknown). It is [`Verdict::Switch`], which
/// a non-zero identifier's primary field never decides alone, so the batch fast path tells
/// "decided" from "not decided here" by the verdict's discriminant alone.
const UNDECIDED: Verdict = Verdict::Switch;
/// GTPv1 message type of an Echo Request (TS 29.281 section 6.1).
const GTP_ECHO_REQUEST: u8 = 1;

/// One entry of [`VidTable`]'s per-primary verdicts: the verdict and whether it is
/// [`UNDECIDED`] (1) or not (0), as a word that the batch fast path ORs together (one
/// instruction per packet) to learn whether a group of packets needs its second pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Primary {
    verdict: Verdict,
    undecided: u32,
}

impl Primary {
    const fn new(verdict: Verdict) -> Primary {
        Primary {
            verdict,
            undecided: matches!(verdict, UNDECIDED) as u32,
        }
    }
}

/// The GTPv1 classification of a first octet for the batch fast path: all ones when it is
/// `0x3_` (version 1, PT = 1: TS 29.060 section 6, TS 29.281 section 5.1), 0 otherwise. ANDed
/// into the primary field, it sends every other packet to the entry of field 0, which is
/// [`UNDECIDED`].
const GTPV1: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut b = 0x30;
    while b < 0x40 {
        t[b] = u32::MAX;
        b += 1;
    }
    t
};

/// The header octet (RFC 791 section 3.1: 16 to 19 from 0, the destination address) that is
/// an IPv4 pool's 8-bit primary field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V4Octet {
    At16,
    At17,
    At18,
    At19,
}

/// An IPv4 UE pool as [`VidTable::steer_downlink_batch`]'s first pass reads it, computed once
/// when the pool is attached ([`VidTable::with_ue_pool`]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct V4Pass {
    /// The version test and the pool test of one packet as one XOR and one test: a packet of
    /// first octet `b0` and destination `dst` (read as [`ipv4_octet`] reads it, little-endian,
    /// when `octet` is some, else as a big-endian address) is IPv4 to an address in the pool
    /// exactly when `(u64::from(dst) ^ first[b0]) & key_mask == 0` ([`ipv4_first`]). 256
    /// entries of 8 octets (2 KiB: it stays in L1 beside the per-primary verdicts).
    first: Box<[u64; 256]>,
    /// See `first`: the pool's prefix mask, and bit 32 (the version's mark in `first`).
    key_mask: u64,
    /// The primary field of a big-endian destination: `(dst >> shift) & mask`.
    shift: u32,
    /// See `shift`.
    mask: u32,
    /// An 8-bit primary field on an octet boundary of the address (the default layout's VIDs in
    /// a pool of /8 to /16): the octet of the header it is, read alone, the pool test made on
    /// the destination as it lies in the header (the prefix and its mask in network order), so
    /// that no byte swap and no shift is needed.
    octet: Option<V4Octet>,
}

impl V4Pass {
    fn new(pool: &UePool) -> V4Pass {
        let (prefix, prefix_mask, shift, mask) = pool.v4_primary();
        let octet = match (mask, shift) {
            (0xff, 0) => Some(V4Octet::At19),
            (0xff, 8) => Some(V4Octet::At18),
            (0xff, 16) => Some(V4Octet::At17),
            (0xff, 24) => Some(V4Octet::At16),
            _ => None,
        };
        // The prefix and its mask as the destination's four octets read little-endian.
        let le = |a: u32| u32::from_le_bytes(a.to_be_bytes());
        let (first, key_mask) = match octet {
            Some(_) => ipv4_first(le(prefix), le(prefix_mask)),
            None => ipv4_first(prefix, prefix_mask),
        };
        V4Pass {
            first,
            key_mask,
            shift,
            mask,
            octet,
        }
    }
}

/// An immutable, versioned snapshot of the VID associations: the line interface's steering table.
#[derive(Debug, Clone)]
pub struct VidTable {
    version: u64,
    layout: VidLayout,
    seid: VidLayout,
    l2tp: Option<VidLayout>,
    ue: Option<UePool>,
    /// `ue`'s IPv4 pool as [`VidTable::steer_downlink_batch`]'s first pass reads it.
    v4: Option<V4Pass>,
    states: Box<[u8]>,
    /// `by_primary[v]`: the verdict for a non-zero identifier whose primary VID is `v`, when
    /// `v`'s state decides alone: to `v` when Up, [`DropReason::UnknownVid`] when unassigned;
    /// [`UNDECIDED`] when `v` is Down (the backup field decides) and for 0. One load per
    /// packet from a table of at most 64 Ki entries of 8 octets (2 KiB for 8-bit VIDs: it
    /// stays in L1).
    by_primary: Box<[Primary]>,
    addrs: Box<[Option<SocketAddr>]>,
    /// The primary field of the 32-bit layout as a shift and a mask (for `steer_batch`'s
    /// GTPv1 fast path: one shift, one mask, one load).
    primary_shift: u32,
    primary_mask: u32,
}

impl VidTable {
    /// An empty table (version 0): every packet but set-up requests is dropped as unknown.
    pub fn new(layout: VidLayout, l2tp: Option<VidLayout>) -> VidTable {
        let n = usize::from(layout.max_vid().max(l2tp.map_or(0, |l| l.max_vid()))) + 1;
        // The primary field read back from identifiers with all bits, then one bit, set.
        let primary_mask = u32::from(layout.primary_raw(u32::MAX));
        let primary_shift = (0..32)
            .find(|b| layout.primary_raw(1 << b) != 0)
            .unwrap_or(0);
        let mut by_primary =
            vec![Primary::new(Verdict::Drop(DropReason::UnknownVid)); n].into_boxed_slice();
        if let Some(zero) = by_primary.first_mut() {
            *zero = Primary::new(UNDECIDED);
        }
        VidTable {
            primary_shift,
            primary_mask,
            version: 0,
            layout,
            seid: layout.seid_layout(),
            l2tp,
            ue: None,
            v4: None,
            states: vec![UNASSIGNED; n].into_boxed_slice(),
            by_primary,
            addrs: vec![None; n].into_boxed_slice(),
        }
    }

    /// A table holding `entries` at `version` (entries whose VID does not fit are ignored).
    pub fn with_entries(
        layout: VidLayout,
        l2tp: Option<VidLayout>,
        version: u64,
        entries: &[TableEntry],
    ) -> VidTable {
        let mut t = VidTable::new(layout, l2tp);
        t.version = version;
        for e in entries {
            let i = usize::from(e.vid.get());
            if let (Some(s), Some(v), Some(a)) = (
                t.states.get_mut(i),
                t.by_primary.get_mut(i),
                t.addrs.get_mut(i),
            ) {
                let (state, verdict) = match e.state {
                    VidState::Up => (
                        UP,
                        Verdict::Processor {
                            vid: e.vid,
                            backup: false,
                        },
                    ),
                    VidState::Down => (DOWN, UNDECIDED),
                };
                (*s, *v) = (state, Primary::new(verdict));
                *a = Some(e.addr);
            }
        }
        t
    }

    /// The table steering downlink packets by the slices of `pool` too
    /// ([`VidTable::steer_downlink`]); `None` steers none (every downlink packet is dropped,
    /// [`DropReason::NotInPool`]).
    pub fn with_ue_pool(mut self, pool: Option<UePool>) -> VidTable {
        self.v4 = pool.as_ref().map(V4Pass::new);
        self.ue = pool;
        self
    }

    /// The UE pool downlink packets are steered by.
    pub fn ue_pool(&self) -> Option<&UePool> {
        self.ue.as_ref()
    }

    /// The version of this snapshot.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The fabric address of the processor holding `vid`.
    pub fn addr(&self, vid: VirtualId) -> Option<SocketAddr> {
        self.addrs.get(usize::from(vid.get())).copied().flatten()
    }

    /// The 32-bit TEID layout the table steers by.
    pub fn layout(&self) -> VidLayout {
        self.layout
    }

    /// Every assigned VID with its state and processor address, in VID order (what
    /// [`VidTable::with_entries`] was given, less the entries that did not fit).
    pub fn entries(&self) -> impl Iterator<Item = TableEntry> + '_ {
        self.addrs.iter().enumerate().filter_map(|(i, a)| {
            let vid = VirtualId::new(u16::try_from(i).ok()?)?;
            Some(TableEntry {
                vid,
                state: self.state(vid)?,
                addr: (*a)?,
            })
        })
    }

    /// Whether some VID is held by the processor at `addr` (a fabric sender this line trusts).
    pub fn holds_addr(&self, addr: SocketAddr) -> bool {
        self.addrs.contains(&Some(addr))
    }

    /// The state of `vid`, `None` when unassigned.
    pub fn state(&self, vid: VirtualId) -> Option<VidState> {
        match self.states.get(usize::from(vid.get())) {
            Some(&UP) => Some(VidState::Up),
            Some(&DOWN) => Some(VidState::Down),
            _ => None,
        }
    }

    #[inline(always)]
    fn state_raw(&self, vid: u16) -> u8 {
        self.states
            .get(usize::from(vid))
            .copied()
            .unwrap_or(UNASSIGNED)
    }

    /// The verdict for an identifier whose raw primary and backup fields are `p` and `b`: the
    /// primary's precomputed verdict, and only when it does not decide alone the states.
    #[inline(always)]
    fn by_vids(&self, p: u16, b: u16) -> Verdict {
        let v = self
            .by_primary
            .get(usize::from(p))
            .map_or(Verdict::Drop(DropReason::UnknownVid), |e| e.verdict);
        if !matches!(v, UNDECIDED) {
            return v;
        }
        match (self.state_raw(p), self.state_raw(b), VirtualId::new(b)) {
            (DOWN, UP, Some(vid)) => Verdict::Processor { vid, backup: true },
            (DOWN, _, _) => Verdict::Drop(DropReason::ProcessorDown),
            _ => Verdict::Drop(DropReason::UnknownVid),
        }
    }

    /// [`VidTable::by_vids`] from the states alone, as it was before the precomputed verdicts:
    /// the reference the tests hold it to.
    #[cfg(test)]
    fn by_vids_reference(&self, p: u16, b: u16) -> Verdict {
        match self.state_raw(p) {
            UP => match VirtualId::new(p) {
                Some(vid) => Verdict::Processor { vid, backup: false },
                None => Verdict::Drop(DropReason::UnknownVid),
            },
            DOWN => match (self.state_raw(b), VirtualId::new(b)) {
                (UP, Some(vid)) => Verdict::Processor { vid, backup: true },
                _ => Verdict::Drop(DropReason::ProcessorDown),
            },
            _ => Verdict::Drop(DropReason::UnknownVid),
        }
    }

    #[inline(always)]
    fn by_id(&self, id: u32, layout: &VidLayout) -> Verdict {
        self.by_vids(layout.primary_raw(id), layout.backup_raw(id))
    }

    /// Steers one packet (a UDP payload) by its version bits alone. Reads at most the first
    /// twelve octets; never allocates; never panics.
    ///
    /// The first octet tells the protocols apart: `0x3_` (version 1, PT = 1) is GTPv1,
    /// `0x2_` (version 1, spare bit 5 clear) PFCP, `0x4_` and `0x5_` (version 2) GTPv2-C, and
    /// anything else is tried as L2TPv2. One pair is ambiguous: an L2TPv2 data message with the
    /// L bit and a GTPv2-C message whose type's low nibble is 2 (Echo Response, Modify Bearer
    /// Request, ...) can share their first two octets; when the table steers L2TP, such a
    /// packet is taken as L2TP. [`VidTable::steer_port`], which the [`LineInterface`](super::LineInterface) uses,
    /// settles it by the UDP port.
    #[inline]
    pub fn steer(&self, packet: &[u8]) -> Verdict {
        match self.gtpv1_decided(packet) {
            UNDECIDED => self.steer_full(packet),
            v => v,
        }
    }

    /// The common packet of [`VidTable::steer`] and [`VidTable::steer_port`], small enough to
    /// be inlined into the caller's loop: a GTPv1 header (TS 29.281 section 5.1: `0x3_` in the
    /// first octet, the TEID in octets 5 to 8) whose TEID's primary field names a VID that
    /// decides alone (Up or unassigned), read by one shift and one mask and decided by one load
    /// from the per-primary verdicts, as [`VidTable::steer_batch`]'s first pass does, with no
    /// branch on the packet's first octet; [`UNDECIDED`] for any other packet (another
    /// protocol, fewer than eight octets, a TEID of 0 or a primary field of 0, a Down primary),
    /// which the full decoding then decides.
    #[inline(always)]
    fn gtpv1_decided(&self, packet: &[u8]) -> Verdict {
        let Some(&[b0, _, _, _, t0, t1, t2, t3]) = packet.first_chunk::<8>() else {
            return UNDECIDED;
        };
        let teid = u32::from_be_bytes([t0, t1, t2, t3]);
        // Not GTPv1, a TEID of 0: the entry of field 0, which is UNDECIDED.
        let i = (teid >> (self.primary_shift & 31)) & self.primary_mask & GTPV1[usize::from(b0)];
        self.by_primary
            .get(i as usize)
            .map_or(UNDECIDED, |e| e.verdict)
    }

    /// [`VidTable::steer`] without its inlined GTPv1 fast path ([`VidTable::gtpv1_decided`]):
    /// every packet decoded by its version bits (the reference the fast path is tested
    /// against).
    #[inline(never)]
    fn steer_full(&self, packet: &[u8]) -> Verdict {
        let Some(&b0) = packet.first() else {
            return Verdict::Drop(DropReason::Malformed);
        };
        match b0 >> 4 {
            0x3 => self.steer_gtpv1(packet),
            0x2 => self.steer_pfcp(packet),
            0x5 => self.steer_gtpv2(packet),
            0x4 if self.l2tp.is_none() || packet.get(1).is_none_or(|b1| b1 & 0x0f != 2) => {
                self.steer_gtpv2(packet)
            }
            _ => self.steer_l2tp(packet),
        }
    }

    /// Steers one packet (a UDP payload) sent to the UDP port `port`: 2152 carries GTPv1-U only
    /// (TS 29.281 sections 4.4.2 and 5.1), 2123 GTPv1-C or GTPv2-C by the version bits of the
    /// first octet (TS 29.060 section 4.2, TS 29.274 section 4.2), 8805 PFCP (TS 29.244 section
    /// 4.2.2), 1701 L2TP (RFC 2661 section 8.1); on any other port the version bits decide
    /// alone ([`VidTable::steer`]). A GTPv1 Echo Request to 2152 goes to the switch processor
    /// whatever its TEID (TS 29.281 section 5.1 sends it with TEID 0; section 7.2.1). Reads at most the first twelve octets; never allocates;
    /// never panics.
    #[inline]
    pub fn steer_port(&self, port: u16, packet: &[u8]) -> Verdict {
        match port {
            GTP_U_PORT => match self.gtpv1_decided(packet) {
                UNDECIDED => self.steer_gtp_u(packet),
                // An Echo Request is path management whatever its TEID (TS 29.281 section 5.1
                // has it sent with TEID 0; 7.2.1): the switch processor answers it.
                _ if packet.get(1) == Some(&GTP_ECHO_REQUEST) => Verdict::Switch,
                v => v,
            },
            GTP_C_PORT => match packet.first().map(|b| b >> 4) {
                Some(0x3) => self.steer_gtpv1(packet),
                Some(0x4 | 0x5) => self.steer_gtpv2(packet),
                _ => Verdict::Drop(DropReason::Malformed),
            },
            PFCP_PORT => self.steer_pfcp(packet),
            L2TP_PORT => self.steer_l2tp(packet),
            _ => self.steer(packet),
        }
    }

    /// A packet on the GTP-U port (TS 29.281 section 4.4.2): GTPv1 by the version bits, else
    /// malformed ([`VidTable::steer_port`]'s decoding without its inlined fast path
    /// [`VidTable::gtpv1_decided`]).
    #[inline(never)]
    fn steer_gtp_u(&self, packet: &[u8]) -> Verdict {
        match packet.first().map(|b| b >> 4) {
            Some(0x3) if packet.len() >= 8 && packet.get(1) == Some(&GTP_ECHO_REQUEST) => {
                Verdict::Switch
            }
            Some(0x3) => self.steer_gtpv1(packet),
            _ => Verdict::Drop(DropReason::Malformed),
        }
    }

    /// GTPv1 (TS 29.060 section 6, TS 29.281 section 5.1): the TEID in octets 5 to 8. TEID 0
    /// is a set-up or path management (to the switch processor), except a G-PDU (dropped).
    #[inline(always)]
    fn steer_gtpv1(&self, packet: &[u8]) -> Verdict {
        let Some(&[_, t, _, _, t0, t1, t2, t3]) = packet.get(..8) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let teid = u32::from_be_bytes([t0, t1, t2, t3]);
        if teid == 0 {
            return if t == 0xff {
                Verdict::Drop(DropReason::ZeroId)
            } else {
                Verdict::Switch
            };
        }
        self.by_id(teid, &self.layout)
    }

    /// GTPv2-C (TS 29.274 section 5.1): with T = 0 (Echo, Version Not Supported Indication:
    /// path management) or TEID 0 (Create Session Request and the other initial messages,
    /// section 5.5.2) to the switch processor, else by the TEID in octets 5 to 8 with the
    /// 32-bit layout.
    #[inline(always)]
    fn steer_gtpv2(&self, packet: &[u8]) -> Verdict {
        let Some(&[flags, _, _, _, t0, t1, t2, t3]) = packet.get(..8) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let teid = u32::from_be_bytes([t0, t1, t2, t3]);
        if flags & 0x08 == 0 || teid == 0 {
            return Verdict::Switch;
        }
        self.by_id(teid, &self.layout)
    }

    /// PFCP (TS 29.244 section 7.2.2): a node message (S = 0: Heartbeat, Association
    /// Setup/Update/Release, ...) or a session message with SEID 0 (Session Establishment
    /// Request, section 7.2.2.4.2) to the switch processor, else by the SEID in octets 5 to 12
    /// with the 64-bit layout ([`VidLayout::seid_layout`] of the TEID layout).
    #[inline(always)]
    fn steer_pfcp(&self, packet: &[u8]) -> Verdict {
        let Some(&[flags, _, _, _, s0, s1, s2, s3, s4, s5, s6, s7]) = packet.get(..12) else {
            return match packet.first() {
                Some(f) if f & 0x01 == 0 && packet.len() >= 8 => Verdict::Switch,
                _ => Verdict::Drop(DropReason::Malformed),
            };
        };
        let seid = u64::from_be_bytes([s0, s1, s2, s3, s4, s5, s6, s7]);
        if flags & 0x01 == 0 || seid == 0 {
            return Verdict::Switch;
        }
        let l = &self.seid;
        self.by_vids(l.primary_raw64(seid), l.backup_raw64(seid))
    }

    /// L2TPv2 (RFC 2661 section 3.1): version 2 in the second octet, reserved bits of the first
    /// clear; by the tunnel id with the 16-bit layout.
    #[inline(always)]
    fn steer_l2tp(&self, packet: &[u8]) -> Verdict {
        let (Some(&b0), Some(&b1)) = (packet.first(), packet.get(1)) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        if b1 & 0x0f != 2 || b0 & 0x34 != 0 {
            return Verdict::Drop(DropReason::Malformed);
        }
        let Some(layout) = &self.l2tp else {
            return Verdict::Drop(DropReason::L2tpDisabled);
        };
        let at = if b0 & 0x40 != 0 { 4 } else { 2 };
        let Some(&[t0, t1]) = packet.get(at..at + 2) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let tunnel = u16::from_be_bytes([t0, t1]);
        if tunnel == 0 {
            return if b0 & 0x80 != 0 {
                Verdict::Switch
            } else {
                Verdict::Drop(DropReason::ZeroId)
            };
        }
        self.by_id(u32::from(tunnel), layout)
    }

    /// Steers one downlink packet: an IP packet (IPv4 or IPv6 header first, as it arrives on
    /// the SGi / N6 side, not GTP) to a UE, by the VID fields of its destination address in
    /// the [`UePool`] ([`VidTable::with_ue_pool`]): to the processor of the primary VID when Up,
    /// to the backup VID's when the primary is Down, exactly as [`VidTable::steer`] does for a
    /// TEID with the same VIDs. IPv4: the destination in octets 16 to 19 (RFC 791 section
    /// 3.1); IPv6: the top 64 bits of the destination, octets 24 to 31 (RFC 8200 section 3).
    /// Drops: no pool, or a destination outside it ([`DropReason::NotInPool`]); another
    /// version or too short ([`DropReason::Malformed`]); a slice of no assigned VID
    /// ([`DropReason::UnknownVid`]); primary and backup down ([`DropReason::ProcessorDown`]).
    /// Reads at most 32 octets; never allocates; never panics.
    #[inline]
    pub fn steer_downlink(&self, packet: &[u8]) -> Verdict {
        let Some(pool) = &self.ue else {
            return Verdict::Drop(DropReason::NotInPool);
        };
        let vids = match packet.first().map(|b| b >> 4) {
            Some(4) => match packet.get(16..20) {
                Some(&[a, b, c, d]) => pool.vids_v4(u32::from_be_bytes([a, b, c, d])),
                _ => return Verdict::Drop(DropReason::Malformed),
            },
            Some(6) => match packet.get(24..32) {
                Some(&[a, b, c, d, e, f, g, h]) => {
                    pool.vids_v6(u64::from_be_bytes([a, b, c, d, e, f, g, h]))
                }
                _ => return Verdict::Drop(DropReason::Malformed),
            },
            _ => return Verdict::Drop(DropReason::Malformed),
        };
        match vids {
            Some((p, b)) => self.by_vids(p, b),
            None => Verdict::Drop(DropReason::NotInPool),
        }
    }

    /// Steers a batch of downlink packets: `out[i]` is the verdict for `packets[i]`, for the
    /// first `min(packets.len(), out.len())` packets (the count is returned); each the verdict
    /// [`VidTable::steer_downlink`] gives it.
    ///
    /// As [`VidTable::steer_batch`], 64 packets at a time in two passes. The first, without a
    /// branch on the packet's contents, takes every packet as the common one, an IPv4 packet
    /// (RFC 791 section 3.1: version 4 in the first octet) to an address in the pool whose
    /// primary field names a VID that decides alone: the destination address (octets 17 to 20)
    /// XORed with the word the first octet names in a 256-entry table and tested under one mask,
    /// the version test and the pool test at once (the table computed from the pool once, when
    /// it is attached), its primary field by one shift and one mask, one load from the
    /// per-primary verdicts. The others (IPv6, outside the pool, fewer than 20 octets, a
    /// primary field of 0, a Down primary) are marked [`Verdict::Switch`]; the second pass
    /// gives them [`VidTable::steer_downlink`]'s verdict.
    #[inline]
    pub fn steer_downlink_batch(&self, packets: &[&[u8]], out: &mut [Verdict]) -> usize {
        let n = packets.len().min(out.len());
        let (packets, out) = (&packets[..n], &mut out[..n]);
        let Some(v4) = &self.v4 else {
            out.fill(Verdict::Drop(DropReason::NotInPool));
            return n;
        };
        let V4Pass {
            first,
            key_mask,
            shift,
            mask,
            octet,
        } = v4;
        let (key_mask, shift, mask) = (*key_mask, *shift, *mask);
        let Some(table) = self.by_primary.get(..=mask as usize) else {
            out.fill(UNDECIDED);
            self.settle(packets, out, Self::steer_downlink);
            return n;
        };
        if let (Some(at), Ok(table)) = (octet, <&[Primary; 256]>::try_from(table)) {
            let pool = (table, &**first, key_mask);
            // One loop per octet, the octet's offset a constant of the loads (no register).
            match at {
                V4Octet::At16 => self.downlink_octet::<16>(pool, packets, out),
                V4Octet::At17 => self.downlink_octet::<17>(pool, packets, out),
                V4Octet::At18 => self.downlink_octet::<18>(pool, packets, out),
                V4Octet::At19 => self.downlink_octet::<19>(pool, packets, out),
            }
            return n;
        }
        let step = |p: &[u8], o: &mut Verdict| {
            // Too short: first octet 0, which is not IPv4.
            let (b0, dst) = match p.first_chunk::<20>() {
                Some(h) => (h[0], u32::from_be_bytes([h[16], h[17], h[18], h[19]])),
                None => (0, 0),
            };
            // The prefix's bits flipped, the field's kept (it lies below the prefix).
            let x = u64::from(dst) ^ first[usize::from(b0)];
            let field = (x as u32 >> (shift & 31)) & mask;
            // Not IPv4 or outside the pool: the entry of field 0, which is UNDECIDED.
            let i = if x & key_mask == 0 { field } else { 0 };
            let e = &table[i as usize];
            std::slice::from_mut(o).copy_from_slice(std::slice::from_ref(&e.verdict));
            e.undecided
        };
        for (p, o) in packets.chunks(64).zip(out.chunks_mut(64)) {
            if first_pass(p, o, step) {
                self.settle(p, o, Self::steer_downlink);
            }
        }
        n
    }

    /// [`VidTable::steer_downlink_batch`] when the pool's primary field is the octet `AT` (16
    /// to 19) of the IPv4 header: `pool` is the 256 per-primary verdicts and the pool's
    /// per-first-octet words and their mask as [`ipv4_octet`] takes them.
    #[inline]
    fn downlink_octet<const AT: usize>(
        &self,
        (table, first, key_mask): (&[Primary; 256], &[u64; 256], u64),
        packets: &[&[u8]],
        out: &mut [Verdict],
    ) {
        for (p, o) in packets.chunks(64).zip(out.chunks_mut(64)) {
            if first_pass(p, o, |p, o| ipv4_octet::<AT>(table, first, key_mask, p, o)) {
                self.settle(p, o, Self::steer_downlink);
            }
        }
    }

    /// Steers a batch: `out[i]` is the verdict for `packets[i]`, for the first
    /// `min(packets.len(), out.len())` packets (the count is returned); each the verdict
    /// [`VidTable::steer`] gives it.
    ///
    /// The batch is steered 64 packets at a time in two passes. The first pass, without a
    /// branch on the packet's contents, takes every packet as the common one, a GTPv1 header
    /// (TS 29.281 section 5.1: version 1 and PT = 1 in the first octet, the TEID in octets 5 to
    /// 8) whose TEID's primary field names a VID that decides alone (Up or unassigned): the
    /// first eight octets read as one big-endian word, the primary field by one shift and one
    /// mask (0 when the first octet is not `0x3_`), one load from the per-primary verdicts (a
    /// table of at most 64 Ki entries, 2 KiB for 8-bit VIDs: it stays in L1). A packet it
    /// cannot decide (another protocol, fewer than eight octets, a primary field of 0 as in a
    /// TEID of 0, a Down primary whose backup decides) comes out of it marked
    /// [`Verdict::Switch`], a verdict the per-primary table gives no decided packet. The second
    /// pass, only when some packet of the 64 was so marked, gives the marked packets
    /// [`VidTable::steer`]'s verdict.
    #[inline]
    pub fn steer_batch(&self, packets: &[&[u8]], out: &mut [Verdict]) -> usize {
        let n = packets.len().min(out.len());
        let (packets, out) = (&packets[..n], &mut out[..n]);
        let (shift, mask) = (self.primary_shift, self.primary_mask);
        // Exactly the entries a primary field can name (the table has one per VID of the
        // layout, so this is never short), which lets the index below go unchecked.
        let Some(table) = self.by_primary.get(..=mask as usize) else {
            out.fill(UNDECIDED);
            self.settle(packets, out, Self::steer);
            return n;
        };
        // The 8-bit primary field at the top of the TEID ([`VidLayout::teid32`]`(8, _)`, the
        // default layout): the field is the fifth octet, read alone.
        let top8: Option<&[Primary; 256]> = (shift == 24 && mask == 0xff)
            .then(|| table.try_into().ok())
            .flatten();
        for (p, o) in packets.chunks(64).zip(out.chunks_mut(64)) {
            let any = match top8 {
                Some(top8) => first_pass(p, o, |p, o| gtpv1_top8(top8, p, o)),
                None => first_pass(p, o, |p, o| gtpv1_step(table, shift, mask, p, o)),
            };
            if any {
                self.settle(p, o, Self::steer);
            }
        }
        n
    }

    /// The second pass of [`VidTable::steer_batch`] (`steer` is [`VidTable::steer`]) and of
    /// [`VidTable::steer_downlink_batch`] (`steer` is [`VidTable::steer_downlink`]): each packet
    /// whose verdict the first pass left [`UNDECIDED`] gets `steer`'s.
    #[cold]
    #[inline(never)]
    fn settle(
        &self,
        packets: &[&[u8]],
        out: &mut [Verdict],
        steer: impl Fn(&Self, &[u8]) -> Verdict,
    ) {
        for (p, o) in packets.iter().zip(out.iter_mut()) {
            if matches!(*o, UNDECIDED) {
                *o = steer(self, p);
            }
        }
    }
}

/// The first pass of [`VidTable::steer_batch`] and [`VidTable::steer_downlink_batch`] over
/// `packets` (at most 64), `step` deciding one packet ([`gtpv1_step`], [`gtpv1_top8`] or the
/// IPv4 one): each packet's verdict, [`UNDECIDED`] when it is
/// not decided here; whether any is not. Sixteen packets a step, as two unrolled runs of
/// eight (one loop counter per sixteen packets).
#[inline(always)]
fn first_pass(
    packets: &[&[u8]],
    out: &mut [Verdict],
    step: impl Fn(&[u8], &mut Verdict) -> u32,
) -> bool {
    let mut any = 0;
    let mut p16 = packets.chunks_exact(16);
    let mut o16 = out.chunks_exact_mut(16);
    for (p, o) in (&mut p16).zip(&mut o16) {
        let (pa, pb) = p.split_at(8);
        let (oa, ob) = o.split_at_mut(8);
        for (p, o) in pa.iter().zip(oa.iter_mut()) {
            any |= step(p, o);
        }
        for (p, o) in pb.iter().zip(ob.iter_mut()) {
            any |= step(p, o);
        }
    }
    for (p, o) in p16.remainder().iter().zip(o16.into_remainder()) {
        any |= step(p, o);
    }
    any != 0
}

/// [`gtpv1_step`] for the 8-bit primary field at the top of the TEID: the TEID's first octet
/// (the packet's fifth) is the field, read alone; `table` its 256 entries.
#[inline(always)]
fn gtpv1_top8(table: &[Primary; 256], packet: &[u8], out: &mut Verdict) -> u32 {
    // Too short: first octet 0, which is not GTPv1.
    let (b0, field) = match packet.first_chunk::<8>() {
        Some(&[b0, _, _, _, t0, _, _, _]) => (b0, t0),
        None => (0, 0),
    };
    // Not GTPv1: the entry of primary field 0, which is UNDECIDED.
    let e = &table[(u32::from(field) & GTPV1[usize::from(b0)]) as usize];
    std::slice::from_mut(out).copy_from_slice(std::slice::from_ref(&e.verdict));
    e.undecided
}

/// The per-first-octet words of [`V4Pass`] and their mask for a pool of `prefix` and
/// `prefix_mask` (the destination's octets as the caller reads them): `(u64::from(dst) ^
/// first[b0]) & mask == 0` exactly when `b0` is version 4 (RFC 791 section 3.1: the version in
/// the first octet's top four bits) and `dst & prefix_mask == prefix`. Each word is the prefix,
/// with bit 32 set for a first octet of another version: a 32-bit destination has bit 32 clear,
/// so the XOR leaves it set and the test fails whatever the pool (a /0 too).
fn ipv4_first(prefix: u32, prefix_mask: u32) -> (Box<[u64; 256]>, u64) {
    const NOT_V4: u64 = 1 << 32;
    let mut first = Box::new([u64::from(prefix & prefix_mask); 256]);
    for (b0, w) in first.iter_mut().enumerate() {
        if b0 >> 4 != 4 {
            *w |= NOT_V4;
        }
    }
    (first, u64::from(prefix_mask) | NOT_V4)
}

/// One packet of [`VidTable::steer_downlink_batch`]'s first pass ([`first_pass`]) when the
/// pool's primary field is the octet `AT` (16 to 19) of the IPv4 header (RFC 791 section 3.1:
/// the destination address in octets 17 to 20, here 16 to 19 from 0): its verdict in `out`; 1
/// when it is [`UNDECIDED`], else 0. The destination's four octets are read as one
/// little-endian word (one load on a little-endian host), XORed with the first octet's word
/// `first[b0]` and tested under `key_mask` ([`ipv4_first`] of the pool's octets read the same
/// way): the version test and the pool test in one XOR and one test. The octet `AT` is that
/// word shifted right by `8 * (AT - 16)`.
#[inline(always)]
fn ipv4_octet<const AT: usize>(
    table: &[Primary; 256],
    first: &[u64; 256],
    key_mask: u64,
    packet: &[u8],
    out: &mut Verdict,
) -> u32 {
    // Too short: first octet 0, which is not IPv4.
    let (b0, dst) = match packet.first_chunk::<20>() {
        Some(h) => (h[0], u32::from_le_bytes([h[16], h[17], h[18], h[19]])),
        None => (0, 0),
    };
    // The prefix's bits flipped, the field's kept (it lies after the prefix): the field is read
    // from the XOR, so that the destination need not be kept beside it.
    let x = u64::from(dst) ^ first[usize::from(b0)];
    let field = (x >> (8 * (AT as u32 - 16))) as u8;
    // Not IPv4 or outside the pool: the entry of field 0, which is UNDECIDED.
    let i = if x & key_mask == 0 { field } else { 0 };
    let e = &table[usize::from(i)];
    std::slice::from_mut(out).copy_from_slice(std::slice::from_ref(&e.verdict));
    e.undecided
}

/// One packet of [`VidTable::steer_batch`]'s first pass ([`first_pass`]): its verdict in `out`; 1 when it is [`UNDECIDED`], else 0.
#[inline(always)]
fn gtpv1_step(table: &[Primary], shift: u32, mask: u32, packet: &[u8], out: &mut Verdict) -> u32 {
    // Too short: first octet 0, which is not GTPv1.
    let (b0, teid) = match packet.first_chunk::<8>() {
        Some(&[b0, _, _, _, t0, t1, t2, t3]) => (b0, u32::from_be_bytes([t0, t1, t2, t3])),
        None => (0, 0),
    };
    // Not GTPv1: the entry of primary field 0, which is UNDECIDED.
    let i = (teid >> shift) & GTPV1[usize::from(b0)] & mask;
    let Some(e) = table.get(i as usize) else {
        *out = UNDECIDED;
        return 1;
    };
    // Copied whole (one 32-bit move), not field by field.
    std::slice::from_mut(out).copy_from_slice(std::slice::from_ref(&e.verdict));
    e.undecided
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steering::{gtpv2, pfcp};
    use proptest::prelude::*;

    fn v(n: u16) -> VirtualId {
        VirtualId::new(n).unwrap()
    }

    /// Table entries for VIDs 1 to `layout`'s largest (at most 255) from `states` (per VID:
    /// 0 unassigned, 1 Up, 2 Down), all at one address (the batch proptests' random tables).
    fn random_entries(layout: &VidLayout, states: &[u8]) -> Vec<TableEntry> {
        let addr = SocketAddr::from(([172, 16, 1, 1], 4000));
        (1..=layout.max_vid().min(255))
            .zip(states)
            .filter_map(|(n, &s)| {
                let state = match s {
                    1 => VidState::Up,
                    2 => VidState::Down,
                    _ => return None,
                };
                Some(TableEntry {
                    vid: v(n),
                    state,
                    addr,
                })
            })
            .collect()
    }

    /// Every VID up but `down`, which is down; with or without the L2TP layout.
    fn table(down: VirtualId, l2tp: bool) -> VidTable {
        let addr = SocketAddr::from(([172, 16, 1, 1], 4000));
        let entries: Vec<TableEntry> = (1..=255)
            .map(|n| TableEntry {
                vid: v(n),
                state: if v(n) == down {
                    VidState::Down
                } else {
                    VidState::Up
                },
                addr,
            })
            .collect();
        let l2tp = l2tp.then(|| VidLayout::id16(4, 4).unwrap());
        VidTable::with_entries(VidLayout::default(), l2tp, 1, &entries)
    }

    proptest! {
        /// TS 29.274 section 5.5.2 and TS 29.244 section 7.2.2.4.2: a GTPv2-C message is
        /// steered by the VIDs of its header TEID, a PFCP session message by those of its
        /// header SEID: to the primary, or to the backup when the primary is down; by the
        /// version bits alone (without L2TP) and by the port (with L2TP too).
        #[test]
        fn gtpv2_and_pfcp_follow_the_vid_of_their_teid_and_seid(
            p in 1u16..=255, b in 1u16..=255, local in any::<u64>(), seq in 0u32..=0xff_ffff,
            gtp_type in 4u8..=255, pfcp_type in 50u8..=99, primary_down in any::<bool>(),
        ) {
            prop_assume!(p != b);
            let (p, b) = (v(p), v(b));
            let teid = VidLayout::default().compose(p, Some(b), (local & 0xffff) as u32).unwrap();
            let seids = VidLayout::seid64(8, 8).unwrap();
            let seid = seids.compose64(p, Some(b), local & seids.max_local64()).unwrap();
            let m2 = gtpv2::Message::new(gtpv2::MessageType(gtp_type), Some(teid), seq, vec![]);
            let m2 = m2.to_vec().unwrap();
            let mp = pfcp::Message::new(pfcp::MessageType(pfcp_type), seid, seq, vec![]);
            let mp = mp.to_vec().unwrap();
            let want = if primary_down {
                Verdict::Processor { vid: b, backup: true }
            } else {
                Verdict::Processor { vid: p, backup: false }
            };
            // With the primary up, some other VID is down (never the primary).
            let down = if primary_down { p } else { v(if p.get() == 255 { 254 } else { 255 }) };
            let t = table(down, false);
            prop_assert_eq!(t.steer(&m2), want);
            prop_assert_eq!(t.steer(&mp), want);
            let with_l2tp = table(down, true);
            for t in [&t, &with_l2tp] {
                prop_assert_eq!(t.steer_port(GTP_C_PORT, &m2), want);
                prop_assert_eq!(t.steer_port(PFCP_PORT, &mp), want);
                let mut out = [Verdict::Switch; 2];
                prop_assert_eq!(t.steer_batch(&[&mp, &mp], &mut out), 2);
                prop_assert_eq!(out, [want, want]);
            }
        }

        /// Set-ups and node messages go to the switch processor: GTPv2-C with TEID 0 or none
        /// (T = 0), PFCP node messages (S = 0) and session messages with SEID 0.
        #[test]
        fn zero_ids_and_node_messages_go_to_the_switch(
            seq in 0u32..=0xff_ffff, gtp_type in any::<u8>(), node_type in 1u8..50,
            session_type in 50u8..=99,
        ) {
            let t = table(v(1), true);
            for teid in [None, Some(0)] {
                let m = gtpv2::Message::new(gtpv2::MessageType(gtp_type), teid, seq, vec![]);
                prop_assert_eq!(t.steer_port(GTP_C_PORT, &m.to_vec().unwrap()), Verdict::Switch);
            }
            for ty in [node_type, session_type] {
                let m = pfcp::Message::new(pfcp::MessageType(ty), 0, seq, vec![]);
                let m = m.to_vec().unwrap();
                prop_assert_eq!(t.steer_port(PFCP_PORT, &m), Verdict::Switch);
                prop_assert_eq!(t.steer(&m), Verdict::Switch);
            }
        }
    }

    /// A table with each VID 1..=255 in the state `states[v - 1]` (0 unassigned, 1 up, 2 down).
    fn random_table(states: &[u8], l2tp: bool) -> VidTable {
        let addr = SocketAddr::from(([172, 16, 1, 1], 4000));
        let entries: Vec<TableEntry> = (1..=255u16)
            .zip(states)
            .filter_map(|(n, &s)| {
                let state = match s {
                    1 => VidState::Up,
                    2 => VidState::Down,
                    _ => return None,
                };
                Some(TableEntry {
                    vid: v(n),
                    state,
                    addr,
                })
            })
            .collect();
        let l2tp = l2tp.then(|| VidLayout::id16(4, 4).unwrap());
        VidTable::with_entries(VidLayout::default(), l2tp, 1, &entries)
    }

    /// A packet: a GTPv1 header (G-PDU or not) with a TEID of random VIDs, a GTPv2-C or PFCP
    /// header, an L2TP header, or random octets.
    fn packet() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (any::<bool>(), any::<u32>(), 0usize..12).prop_map(|(gpdu, teid, cut)| {
                let mut p = vec![0x30, if gpdu { 0xff } else { 1 }, 0, 8];
                p.extend_from_slice(&teid.to_be_bytes());
                p.extend_from_slice(&[0x45, 0, 0, 0]);
                p.truncate(12 - cut % 6);
                p
            }),
            (
                prop_oneof![Just(0x48u8), Just(0x40), Just(0x21), Just(0x20)],
                any::<[u8; 11]>()
            )
                .prop_map(|(b0, rest)| {
                    let mut p = vec![b0];
                    p.extend_from_slice(&rest);
                    p
                }),
            (any::<u16>(), any::<bool>()).prop_map(|(tunnel, control)| {
                let mut p = vec![if control { 0xc8 } else { 0x00 }, 0x02];
                if control {
                    p.extend_from_slice(&[0, 12]);
                }
                p.extend_from_slice(&tunnel.to_be_bytes());
                p.extend_from_slice(&[0, 1]);
                p
            }),
            proptest::collection::vec(any::<u8>(), 0..16),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The precomputed per-primary verdicts decide exactly as the states did, for every
        /// primary and backup field value (in range or not).
        #[test]
        fn precomputed_verdicts_equal_the_states(
            states in proptest::collection::vec(0u8..3, 255),
        ) {
            let t = random_table(&states, false);
            for p in 0..=300u16 {
                for b in 0..=300u16 {
                    prop_assert_eq!(t.by_vids(p, b), t.by_vids_reference(p, b));
                }
            }
        }

        /// `steer_batch` gives each packet the verdict `steer` gives it alone.
        #[test]
        fn steer_batch_equals_steer(
            states in proptest::collection::vec(0u8..3, 255),
            packets in proptest::collection::vec(packet(), 0..200),
            l2tp in any::<bool>(),
            out_len in 0usize..200,
        ) {
            let t = random_table(&states, l2tp);
            let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
            let mut out = vec![Verdict::Switch; out_len];
            let n = t.steer_batch(&refs, &mut out);
            prop_assert_eq!(n, refs.len().min(out_len));
            for (p, v) in refs.iter().zip(&out[..n]) {
                prop_assert_eq!(*v, t.steer(p));
            }
        }
    }

    /// A downlink packet: IPv4 to an address in 10.0.0.0/8 or anywhere, IPv6, cut short, or
    /// random octets.
    fn downlink_packet() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (any::<u32>(), any::<bool>(), any::<u8>(), 0usize..24).prop_map(
                |(dst, in_pool, b0, cut)| {
                    let dst = if in_pool {
                        0x0a00_0000 | (dst >> 8)
                    } else {
                        dst
                    };
                    let b0 = if cut % 3 == 0 { b0 } else { 0x45 };
                    let mut p = vec![b0, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 51, 100, 7];
                    p.extend_from_slice(&dst.to_be_bytes());
                    p.extend_from_slice(&[0; 8]);
                    p.truncate(28 - cut.min(12));
                    p
                }
            ),
            any::<[u8; 40]>().prop_map(|mut p| {
                p[0] = 0x60;
                p.to_vec()
            }),
            proptest::collection::vec(any::<u8>(), 0..40),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// `steer_downlink_batch` gives each packet the verdict `steer_downlink` gives it alone
        /// (RFC 791 section 3.1: the IPv4 destination in octets 17 to 20), with or without a
        /// UE pool, in batches longer than a group of 64.
        #[test]
        fn steer_downlink_batch_equals_steer_downlink(
            states in proptest::collection::vec(0u8..3, 255),
            packets in proptest::collection::vec(downlink_packet(), 0..200),
            with_pool in any::<bool>(),
            out_len in 0usize..200,
        ) {
            let layout = VidLayout::default();
            let pool = with_pool.then(|| {
                UePool::new(&layout, "10.0.0.0/8".parse().unwrap(), None).unwrap()
            });
            let t = random_table(&states, false).with_ue_pool(pool);
            let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
            let mut out = vec![Verdict::Switch; out_len];
            let n = t.steer_downlink_batch(&refs, &mut out);
            prop_assert_eq!(n, refs.len().min(out_len));
            for (p, v) in refs.iter().zip(&out[..n]) {
                prop_assert_eq!(*v, t.steer_downlink(p));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// `steer_downlink_batch` reads the primary field of any IPv4 pool's slices as
        /// `steer_downlink` does (RFC 791 section 3.1: the destination in octets 17 to 20):
        /// pools of /0 to /23 with 8-bit VID fields (the field on an octet boundary of the
        /// address at /0, /8 and /16, read as one octet; elsewhere shifted) and with 6-bit ones,
        /// with or without a backup field, on random tables with processors down; every packet
        /// to an address in the pool or anywhere, of any version, cut short or not, gets
        /// `steer_downlink`'s verdict.
        #[test]
        fn steer_downlink_batch_equals_steer_downlink_under_any_pool(
            prefix_len in 0u8..=23, network in any::<u32>(), wide in any::<bool>(),
            backup in any::<bool>(),
            states in proptest::collection::vec(0u8..3, 255),
            dsts in proptest::collection::vec(
                (any::<u32>(), any::<bool>(), prop_oneof![Just(0x45u8), any::<u8>()], 0usize..8),
                1..150,
            ),
        ) {
            let bits = if wide { 8 } else { 6 };
            let layout = VidLayout::teid32(bits, if backup { bits } else { 0 }).unwrap();
            let net = ipnetwork::Ipv4Network::new(network.into(), prefix_len).unwrap();
            let Ok(pool) = UePool::new(&layout, net, None) else {
                return Ok(());
            };
            let addr = SocketAddr::from(([172, 16, 1, 1], 4000));
            let entries: Vec<TableEntry> = (1..=layout.max_vid().min(255))
                .zip(&states)
                .filter_map(|(n, &s)| {
                    let state = match s {
                        1 => VidState::Up,
                        2 => VidState::Down,
                        _ => return None,
                    };
                    Some(TableEntry { vid: v(n), state, addr })
                })
                .collect();
            let t = VidTable::with_entries(layout, None, 1, &entries).with_ue_pool(Some(pool));
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix_len)).unwrap_or(0);
            let packets: Vec<Vec<u8>> = dsts
                .iter()
                .map(|&(dst, in_pool, b0, cut)| {
                    let dst = if in_pool { (network & mask) | (dst & !mask) } else { dst };
                    let mut p = vec![b0, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 51, 100, 7];
                    p.extend_from_slice(&dst.to_be_bytes());
                    p.extend_from_slice(&[0; 8]);
                    p.truncate(28 - if cut < 4 { cut * 3 } else { 0 });
                    p
                })
                .collect();
            let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
            let mut out = vec![Verdict::Switch; refs.len()];
            prop_assert_eq!(t.steer_downlink_batch(&refs, &mut out), refs.len());
            for (p, v) in refs.iter().zip(&out) {
                prop_assert_eq!(*v, t.steer_downlink(p));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// `steer_batch`'s GTPv1 fast path reads the primary field of any 32-bit layout as
        /// `steer` does (TS 29.281 section 5.1: the TEID in octets 5 to 8): every G-PDU or
        /// signalling header, whole or cut short, gets `steer`'s verdict.
        #[test]
        fn steer_batch_equals_steer_under_any_layout(
            pshift in 0u8..32, width in 1u8..=10, bshift in 0u8..32, backup in any::<bool>(),
            states in proptest::collection::vec(0u8..3, 255),
            teids in proptest::collection::vec((any::<u32>(), any::<bool>(), 0usize..10), 1..64),
        ) {
            let field = |shift| crate::steering::vid::BitField { shift, width };
            let Ok(layout) = VidLayout::new(32, field(pshift), backup.then(|| field(bshift))) else {
                return Ok(());
            };
            let entries = random_entries(&layout, &states);
            let t = VidTable::with_entries(layout, None, 1, &entries);
            let packets: Vec<Vec<u8>> = teids
                .iter()
                .map(|&(teid, gpdu, cut)| {
                    let mut p = vec![0x30, if gpdu { 0xff } else { 1 }, 0, 4];
                    p.extend_from_slice(&teid.to_be_bytes());
                    p.extend_from_slice(&[0x45, 0, 0, 0]);
                    p.truncate(12 - cut.min(6));
                    p
                })
                .collect();
            let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
            let mut out = vec![Verdict::Switch; refs.len()];
            prop_assert_eq!(t.steer_batch(&refs, &mut out), refs.len());
            for (p, v) in refs.iter().zip(&out) {
                prop_assert_eq!(*v, t.steer(p));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// `steer` and `steer_port`'s inlined GTPv1 fast path decides as the full decoding does
        /// under any 32-bit layout, on random tables with processors down: a GTPv1 header
        /// (TS 29.281 section 5.1: `0x3_` in the first octet, whatever its flags) of any TEID
        /// (0, a primary field of 0, an unassigned, Up or Down primary), whole or cut short,
        /// goes where the VIDs of its TEID send it (the states read directly; an Echo Request
        /// to the GTP-U port goes to the switch processor whatever its TEID); every other
        /// packet (GTPv2-C, PFCP, L2TP, random octets) gets the full decoding's verdict (on the
        /// GTP-U port: malformed unless GTPv1).
        #[test]
        fn steer_fast_path_equals_the_full_decoding_under_any_layout(
            pshift in 0u8..32, width in 1u8..=10, bshift in 0u8..32, backup in any::<bool>(),
            states in proptest::collection::vec(0u8..3, 255),
            teids in proptest::collection::vec(
                (any::<u32>(), 0u8..16, any::<bool>(), 0usize..10), 1..64,
            ),
            others in proptest::collection::vec(packet(), 0..32),
            l2tp in any::<bool>(),
        ) {
            let field = |shift| crate::steering::vid::BitField { shift, width };
            let Ok(layout) = VidLayout::new(32, field(pshift), backup.then(|| field(bshift))) else {
                return Ok(());
            };
            let entries = random_entries(&layout, &states);
            let l2tp = l2tp.then(|| VidLayout::id16(4, 4).unwrap());
            let t = VidTable::with_entries(layout, l2tp, 1, &entries);
            for &(teid, flags, gpdu, cut) in &teids {
                // Some TEIDs with a primary field of 0.
                let teid = if cut == 9 { teid & !(t.primary_mask << pshift) } else { teid };
                let mut p = vec![0x30 | flags, if gpdu { 0xff } else { 1 }, 0, 4];
                p.extend_from_slice(&teid.to_be_bytes());
                p.extend_from_slice(&[0x45, 0, 0, 0]);
                p.truncate(12 - cut.min(6));
                let got = t.steer(&p);
                prop_assert_eq!(got, t.steer_full(&p));
                prop_assert_eq!(t.steer_port(GTP_U_PORT, &p), t.steer_gtp_u(&p));
                if p.len() >= 8 && teid != 0 {
                    let want = t.by_vids_reference(layout.primary_raw(teid), layout.backup_raw(teid));
                    prop_assert_eq!(got, want);
                    // On the GTP-U port an Echo Request (type 1) goes to the switch processor
                    // whatever its TEID (TS 29.281 sections 5.1 and 7.2.1).
                    let on_u = if gpdu { want } else { Verdict::Switch };
                    prop_assert_eq!(t.steer_port(GTP_U_PORT, &p), on_u);
                }
            }
            for p in &others {
                prop_assert_eq!(t.steer(p), t.steer_full(p));
                prop_assert_eq!(t.steer_port(GTP_U_PORT, p), t.steer_gtp_u(p));
                prop_assert_eq!(t.steer_port(9, p), t.steer_full(p));
            }
        }
    }

    /// RFC 791 section 3.1: an IPv4 header carries version 4 in the top four bits of its first
    /// octet and the destination in octets 17 to 20. For each of the 256 first octets, a
    /// 28-octet packet to an address in the pool is steered to the processor of its primary VID
    /// when the version is 4 and is malformed otherwise (version 6 included: an IPv6 header
    /// needs 40 octets, RFC 8200 section 3); to an address outside the pool it is not in the
    /// pool when the version is 4, else malformed: by `steer_downlink_batch`, in one batch of
    /// all 256 (the first pass's version test, on every path: the primary field as the octet
    /// 16, 17 or 18 of the header, pools /0, /8, /16, or shifted, a /12), and by
    /// `steer_downlink`.
    #[test]
    fn steer_downlink_batch_takes_version_4_alone_from_every_first_octet() {
        let pools = [
            ("0.0.0.0/0", VidLayout::default()),
            ("10.0.0.0/8", VidLayout::default()),
            ("10.20.0.0/16", VidLayout::teid32(8, 0).unwrap()),
            ("10.16.0.0/12", VidLayout::default()),
        ];
        let addr = SocketAddr::from(([172, 16, 1, 1], 4000));
        for (net, layout) in pools {
            let net: ipnetwork::Ipv4Network = net.parse().unwrap();
            let pool = UePool::new(&layout, net, None).unwrap();
            let entries: Vec<TableEntry> = (1..=255)
                .map(|n| TableEntry {
                    vid: v(n),
                    state: VidState::Up,
                    addr,
                })
                .collect();
            let t = VidTable::with_entries(layout, None, 1, &entries).with_ue_pool(Some(pool));
            let backup = pool.has_backup().then(|| v(9));
            let inside = u32::from(pool.address(v(7), backup, 3).unwrap());
            let to_7 = Verdict::Processor {
                vid: v(7),
                backup: false,
            };
            let mut cases = vec![(inside, to_7)];
            // The prefix's first bit flipped (a /0 has no outside).
            if net.prefix() > 0 {
                cases.push((inside ^ 0x8000_0000, Verdict::Drop(DropReason::NotInPool)));
            }
            for (dst, want_v4) in cases {
                let packets: Vec<Vec<u8>> = (0..=255u8)
                    .map(|b0| {
                        let mut p =
                            vec![b0, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 51, 100, 7];
                        p.extend_from_slice(&dst.to_be_bytes());
                        p.extend_from_slice(&[0; 8]);
                        p
                    })
                    .collect();
                let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
                let mut out = vec![Verdict::Switch; refs.len()];
                assert_eq!(t.steer_downlink_batch(&refs, &mut out), 256);
                for (b0, (p, got)) in refs.iter().zip(&out).enumerate() {
                    let want = if b0 >> 4 == 4 {
                        want_v4
                    } else {
                        Verdict::Drop(DropReason::Malformed)
                    };
                    assert_eq!(*got, want, "{net} first octet {b0:#04x} to {dst:#010x}");
                    assert_eq!(t.steer_downlink(p), want);
                }
            }
        }
    }

    /// `steer_batch` steers 64 packets at a time in two passes: in a batch of 200, every packet
    /// the GTPv1 fast path cannot decide (TS 29.281 section 5.1: a G-PDU of TEID 0 is dropped,
    /// a signalling message of TEID 0 goes to the switch processor; a Down primary hands the
    /// packet to its backup; a short header is malformed; PFCP and L2TP are read elsewhere),
    /// wherever it falls in its group of 64 (first, last, alone in a group), gets the verdict
    /// `steer` gives it, and every fast-path packet around it keeps its own.
    #[test]
    fn steer_batch_decides_the_undecided_in_every_group_of_64() {
        let (up, down, backup) = (v(3), v(7), v(9));
        let t = table(down, true);
        let layout = VidLayout::default();
        let g_pdu = |teid: u32| {
            let mut p = vec![0x30, 0xff, 0, 4];
            p.extend_from_slice(&teid.to_be_bytes());
            p.extend_from_slice(&[0x45, 0, 0, 0]);
            p
        };
        let fast = g_pdu(layout.compose(up, Some(backup), 5).unwrap());
        let to_backup = g_pdu(layout.compose(down, Some(backup), 6).unwrap());
        let mut echo = g_pdu(0);
        echo[1] = 1;
        let odd: [(Vec<u8>, Verdict); 6] = [
            (
                to_backup,
                Verdict::Processor {
                    vid: backup,
                    backup: true,
                },
            ),
            (g_pdu(0), Verdict::Drop(DropReason::ZeroId)),
            (echo, Verdict::Switch),
            (fast[..7].to_vec(), Verdict::Drop(DropReason::Malformed)),
            (vec![0xc8, 0x02, 0, 12, 0, 0, 0, 0], Verdict::Switch),
            (vec![], Verdict::Drop(DropReason::Malformed)),
        ];
        let fast_verdict = Verdict::Processor {
            vid: up,
            backup: false,
        };
        let at = [0usize, 1, 62, 63, 64, 65, 127, 128, 150, 191, 192, 199];
        let mut packets = vec![fast.clone(); 200];
        let mut want = vec![fast_verdict; 200];
        for (k, &i) in at.iter().enumerate() {
            let (p, w) = &odd[k % odd.len()];
            packets[i] = p.clone();
            want[i] = *w;
        }
        let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
        let mut out = vec![Verdict::Drop(DropReason::NotInPool); 200];
        assert_eq!(t.steer_batch(&refs, &mut out), 200);
        assert_eq!(out, want);
        for (p, w) in refs.iter().zip(&want) {
            assert_eq!(t.steer(p), *w);
        }
    }

    /// The table is shared between cores as an `Arc` snapshot.
    #[test]
    fn the_table_is_send_and_sync() {
        fn shareable<T: Send + Sync>() {}
        shareable::<VidTable>();
        shareable::<std::sync::Arc<VidTable>>();
    }

    /// The one ambiguity of the version bits: with L2TP steered, a GTPv2-C Modify Bearer
    /// Request (`0x48 0x22`) reads as an L2TPv2 data header; the GTP-C port settles it.
    #[test]
    fn the_port_settles_gtpv2_against_l2tp() {
        let teid = VidLayout::default().compose(v(3), Some(v(4)), 9).unwrap();
        let m = gtpv2::Message::new(
            gtpv2::MessageType::MODIFY_BEARER_REQUEST,
            Some(teid),
            1,
            vec![],
        );
        let m = m.to_vec().unwrap();
        let t = table(v(200), true);
        let want = Verdict::Processor {
            vid: v(3),
            backup: false,
        };
        assert_eq!(t.steer_port(GTP_C_PORT, &m), want);
        assert_ne!(t.steer(&m), want);
        assert_eq!(table(v(200), false).steer(&m), want);
    }
}
