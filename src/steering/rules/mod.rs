//! The VID table as kernel and NIC steering rules: Linux tc `u32` filters, flower filters for UE
//! prefixes, and ethtool ntuple rules, as data, as command lines, and as the difference between
//! two table versions (what to add and delete to go from one to the next).
//!
//! [`VidTable::steer`] reads the VID fields of a TEID in software. The same decision can be taken
//! by the kernel's ingress classifier, or by the NIC, before the packet reaches the line
//! interface: a [`RuleSet`] is that decision written as match/action rules, built from a
//! [`VidTable`] snapshot, a list of [`Target`]s (which UDP port carries which identifier, at
//! which offset) and a caller-given list of downlink [`UePrefix`]es. Every rule is an
//! accelerator of [`VidTable::steer`]: a packet a rule steers goes where `steer()` sends it, and
//! a packet no rule steers continues to the host stack, where the line interface steers it in
//! software (set-up requests to the switch processor, drops, Error Indications). A missing rule
//! is therefore never wrong, only slower, and a table update is applied rule by rule
//! ([`RuleSet::diff`]): each uplink packet meets, at any moment, its rule of the older version,
//! its rule of the newer one, or none (the host). Downlink rules change in place (tc `replace`);
//! where UE prefixes overlap, a packet of a longer prefix that is being removed or added may
//! meet the covering prefix's rule in between.
//!
//! To follow the line interface: after [`LineInterface::apply_update`] (or on
//! [`LineEvent::TableApplied`]), build the new set from [`LineInterface::table`] and run the
//! lines of [`Tc::update`]`(&old, &new)` (or [`ntuple::Ntuple::sync`]); keep the new set as the
//! next `old`.
//!
//! # The rules
//!
//! For each target (uplink, a UDP datagram to the gateway), in [`RuleKey`] order:
//!
//! | table entry | rule in the target's primary list |
//! | --- | --- |
//! | VID `p` Up | primary field = `p` → [`Action::Steer`] to `p`'s processor |
//! | VID `p` Down, layout with a backup field | primary field = `p` → [`Action::Failover`]: try the target's backup list |
//! | VID `p` Down, no backup field | none (the line interface drops it) |
//!
//! and, when the layout has a backup field, one rule per Up VID `b` in the target's backup list:
//! backup field = `b` → [`Action::Steer`] to `b`'s processor (`backup: true`). A Down primary
//! whose backup field names no Up VID matches nothing in the backup list and continues to the
//! host, where `steer()` drops it ([`DropReason::ProcessorDown`](super::line::DropReason)).
//!
//! Every uplink rule also requires: IPv4, UDP (protocol 17), not a fragment (MF clear, fragment
//! offset 0: fragments continue to the host, which reassembles them), the target's UDP
//! destination port, the target's first-octet test (GTPv1: version 1 and PT 1; GTPv2-C: version
//! 2 and the T flag; PFCP: version 1 and the S flag), and the identifier's 32-bit word at its
//! offset from the UDP header, itself found from the IPv4 header length (IHL x 4), as tc `u32`
//! does with `offset at 0 mask 0x0f00 shift 6` and `at nexthdr+`. Two differences from
//! `steer()`, both only for datagrams no peer sends: tc ingress sees a short frame's Ethernet
//! padding, so a UDP payload too short to hold the identifier (which `steer()` drops as
//! malformed) may match on padding octets and reach a processor, whose parser refuses it; and
//! the rules test the UDP destination port, which `steer()` does not (a GTPv1 datagram to
//! another port is left to the host).
//!
//! [`VidTable::steer`] serves GTPv1 ([`Target::gtpv1`]); the [`Target::gtpv2_c`] and
//! [`Target::pfcp`] targets are for a line interface that also steers GTPv2-C by TEID and PFCP
//! by SEID: their rules steer as `steer()` steers a G-PDU with the same TEID.
//!
//! Downlink (an IP packet to a UE): one rule per [`UePrefix`], longest prefix first, in one list
//! per address family: destination in the prefix → the prefix's VID if Up, else its backup VID if
//! given and Up, else [`Action::Pass`] (the host decides; a shorter prefix must not catch it).
//! IPv6 prefixes ([`Match::Destination6`], keys [`RuleKey::UePrefix6`]) match the IPv6 destination
//! address (octets 24 to 39 of the IPv6 header) as IPv4 prefixes match the IPv4 one (octets 16 to
//! 19); the uplink targets are IPv4 only.
//!
//! # Rendering
//!
//! * [`Tc`]: `tc filter` lines for a device's ingress: one priority (and the next one, `protocol
//!   ipv6`, for IPv6 UE prefixes), a `u32` hash table per list,
//!   a node handle per rule derived from its key (so a rule of a later version replaces the same
//!   node), `action mirred egress redirect dev <dev>` to the device the caller maps each
//!   processor to. `u32` is in every kernel. [`Tc::flower_downlink`] renders the UE prefix rules
//!   for flower, where the kernel has it (`cls_flower`); flower cannot match the TEID of a
//!   datagram addressed to the gateway (its `enc_key_id` and `gtp_opts` are the metadata of a
//!   kernel GTP tunnel device that has already decapsulated the packet), so uplink rules are
//!   `u32` only.
//! * [`ntuple`]: `ethtool -N <dev> flow-type udp4 dst-port 2152 user-def ...` rules for NICs
//!   with a flexible 2-octet payload match (the Intel `i40e`/`ice` convention), where the layout
//!   allows it, and `flow-type ip4` / `ip6` rules for UE prefixes; see the module for what a NIC
//!   cannot express.
//!
//! # Example
//!
//! ```
//! use telcp::steering::fabric::{TableEntry, VidState};
//! use telcp::steering::line::VidTable;
//! use telcp::steering::rules::{RuleSet, Target, Tc, UePrefix};
//! use telcp::steering::{VidLayout, VirtualId};
//!
//! let layout = VidLayout::default(); // primary VID in TEID bits 31-24, backup in 23-16
//! let vid = |n| VirtualId::new(n).unwrap();
//! let (a, b) = ("172.16.1.4:4000".parse().unwrap(), "172.16.1.5:4000".parse().unwrap());
//! let table = VidTable::with_entries(layout, None, 7, &[
//!     TableEntry { vid: vid(4), state: VidState::Up, addr: a },
//!     TableEntry { vid: vid(9), state: VidState::Up, addr: b },
//! ]);
//! let prefixes = [UePrefix { prefix: "10.45.4.0/24".parse().unwrap(), vid: vid(4), backup: None }];
//! let rules = RuleSet::new(&table, &[Target::gtp_u(layout)], &prefixes).unwrap();
//!
//! let tc = Tc::new("eth0", 10).with_egress(a, "proc4").with_egress(b, "proc9");
//! let lines = tc.install(&rules).unwrap();
//! assert!(lines.contains(&"tc filter add dev eth0 ingress prio 10 protocol ip handle 101::4 \
//!     u32 ht 101: match u16 2152 0xffff at nexthdr+2 match u8 0x30 0xf0 at nexthdr+8 \
//!     match u32 0x04000000 0xff000000 at nexthdr+12 action mirred egress redirect dev proc4"
//!     .to_string()));
//!
//! // VID 4 goes down: its TEIDs now steer on their backup field.
//! let newer = VidTable::with_entries(layout, None, 8, &[
//!     TableEntry { vid: vid(4), state: VidState::Down, addr: a },
//!     TableEntry { vid: vid(9), state: VidState::Up, addr: b },
//! ]);
//! let newer = RuleSet::new(&newer, &[Target::gtp_u(layout)], &prefixes).unwrap();
//! let update = tc.update(&rules, &newer).unwrap();
//! assert_eq!(update[0], "tc filter del dev eth0 ingress prio 10 handle 102::4 protocol ip u32");
//! assert!(update.contains(&"tc filter replace dev eth0 ingress prio 10 protocol ip handle 100::1 \
//!     u32 ht 100: match ip dst 10.45.4.0/24 classid 1:1".to_string()));
//! ```

mod eval;
pub mod ntuple;
mod tc;
#[cfg(test)]
mod tests;

pub use tc::Tc;

use super::fabric::VidState;
use super::gtp::{GTP_C_PORT, GTP_U_PORT};
use super::line::VidTable;
#[cfg(doc)]
use super::line::{LineEvent, LineInterface};
use super::pfcp::PFCP_PORT;
use super::vid::{VidLayout, VirtualId};
use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The most UE prefixes a [`RuleSet`] holds, both families together (a tc `u32` node id is 12
/// bits).
pub const MAX_PREFIXES: usize = 0xfff;

/// The most targets a [`RuleSet`] holds.
pub const MAX_TARGETS: usize = 16;

/// The protocol a [`Target`] steers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Protocol {
    /// GTPv1-U (TS 29.281): the TEID of a G-PDU, UDP port 2152.
    GtpU,
    /// GTPv1-C (TS 29.060): the TEID of a control message, UDP port 2123.
    GtpV1C,
    /// GTPv2-C (TS 29.274 section 5.1): the TEID present when the T flag is set, port 2123.
    GtpV2C,
    /// PFCP (TS 29.244 section 7.2.2): the SEID present when the S flag is set, port 8805.
    Pfcp,
}

/// Where a protocol carries an identifier a 32-bit [`VidLayout`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    /// The protocol.
    pub protocol: Protocol,
    /// The UDP destination port.
    pub port: u16,
    /// The value the first octet of the UDP payload has under [`Target::octet0_mask`].
    pub octet0: u8,
    /// The bits of the first octet tested.
    pub octet0_mask: u8,
    /// Offset of the identifier's 32-bit word in the UDP payload, in octets (a multiple of 4,
    /// as tc `u32` keys are 32-bit aligned).
    pub id_offset: u8,
    /// The layout of the identifier's VID fields (32 bits).
    pub layout: VidLayout,
}

impl Target {
    /// GTPv1-U G-PDUs and the rest of GTP-U: first octet `001x xxxx` (version 1, PT 1) masked
    /// `0xf0`, as [`VidTable::steer`] tests; TEID at octet 4 (TS 29.281 section 5.1).
    pub fn gtp_u(layout: VidLayout) -> Target {
        Target {
            protocol: Protocol::GtpU,
            port: GTP_U_PORT,
            octet0: 0x30,
            octet0_mask: 0xf0,
            id_offset: 4,
            layout,
        }
    }

    /// GTPv1-C with a TEID (TS 29.060 section 6): as [`Target::gtp_u`] on port 2123. A TEID 0
    /// (set-up requests) carries no VID and matches no rule.
    pub fn gtpv1_c(layout: VidLayout) -> Target {
        Target {
            protocol: Protocol::GtpV1C,
            port: GTP_C_PORT,
            ..Target::gtp_u(layout)
        }
    }

    /// GTPv2-C with a TEID (TS 29.274 section 5.1): version 2 in bits 8-6 and the T flag
    /// (`0x08`) of the first octet, TEID at octet 4. For a line interface that steers GTPv2-C
    /// by TEID.
    pub fn gtpv2_c(layout: VidLayout) -> Target {
        Target {
            protocol: Protocol::GtpV2C,
            port: GTP_C_PORT,
            octet0: 0x48,
            octet0_mask: 0xe8,
            id_offset: 4,
            layout,
        }
    }

    /// PFCP session messages (TS 29.244 section 7.2.2.4.1): version 1 in bits 8-6 and the S flag
    /// (`0x01`) of the first octet; `layout` applies to the SEID's most significant 32 bits
    /// (octets 4 to 7).
    pub fn pfcp(layout: VidLayout) -> Target {
        Target {
            protocol: Protocol::Pfcp,
            port: PFCP_PORT,
            octet0: 0x21,
            octet0_mask: 0xe1,
            id_offset: 4,
            layout,
        }
    }

    /// The GTPv1 targets [`VidTable::steer`] serves today: [`Target::gtp_u`] and
    /// [`Target::gtpv1_c`].
    pub fn gtpv1(layout: VidLayout) -> [Target; 2] {
        [Target::gtp_u(layout), Target::gtpv1_c(layout)]
    }

    fn check(&self) -> Result<(), RuleError> {
        if self.layout.id_bits() != 32 {
            return Err(RuleError::LayoutWidth(self.protocol));
        }
        if self.id_offset % 4 != 0 || self.id_offset > 64 {
            return Err(RuleError::Unaligned {
                protocol: self.protocol,
                offset: self.id_offset,
            });
        }
        Ok(())
    }
}

/// A downlink UE prefix and the VID whose processor serves its addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UePrefix {
    /// The prefix (IPv4 or IPv6).
    pub prefix: IpNetwork,
    /// The VID of the processor the prefix belongs to.
    pub vid: VirtualId,
    /// Where the prefix's packets go while `vid` is Down, if one processor backs up the whole
    /// prefix; `None` leaves them to the host.
    pub backup: Option<VirtualId>,
}

/// The processor a rule steers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Steer {
    /// Its VID.
    pub vid: VirtualId,
    /// Its fabric address (what the caller maps to a device or a queue).
    pub addr: SocketAddr,
    /// Whether it is the backup (the primary being Down).
    pub backup: bool,
}

/// A rule's identity: the list it belongs to and its place in it. Rules are tried in key order
/// within a list; [`RuleKey::node`] is the position (the tc `u32` node id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleKey {
    /// The `n`-th IPv4 UE prefix (1-based), longest prefixes first.
    UePrefix(u16),
    /// The `n`-th IPv6 UE prefix (1-based), longest prefixes first.
    UePrefix6(u16),
    /// In target `target`'s primary list, the rule on primary VID `vid`.
    Primary {
        /// The index of the target in [`RuleSet::targets`].
        target: u8,
        /// The VID.
        vid: VirtualId,
    },
    /// In target `target`'s backup list, the rule on backup VID `vid`.
    Backup {
        /// The index of the target in [`RuleSet::targets`].
        target: u8,
        /// The VID.
        vid: VirtualId,
    },
}

impl RuleKey {
    /// The rule's position in its list (1-based; the VID for VID rules).
    pub fn node(&self) -> u16 {
        match self {
            RuleKey::UePrefix(n) | RuleKey::UePrefix6(n) => *n,
            RuleKey::Primary { vid, .. } | RuleKey::Backup { vid, .. } => vid.get(),
        }
    }
}

/// What a rule matches, beyond what its list requires (see the [module documentation](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Match {
    /// The identifier word of `target`: `word & mask == value`.
    Id {
        /// The target (port, first octet, offset, layout).
        target: Target,
        /// The VID field's bits.
        value: u32,
        /// The VID field's mask.
        mask: u32,
    },
    /// The IPv4 destination address is in the prefix.
    Destination(Ipv4Network),
    /// The IPv6 destination address is in the prefix.
    Destination6(Ipv6Network),
}

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send the packet to this processor (tc: redirect to its device; ethtool: its queue).
    Steer(Steer),
    /// The primary VID is Down: continue in the target's backup list.
    Failover,
    /// Stop matching: the packet continues to the host (tc: a terminal `classid 1:1` without an
    /// action, which returns `TC_ACT_OK`).
    Pass,
}

/// One rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rule {
    /// Its identity and position.
    pub key: RuleKey,
    /// What it matches.
    pub matcher: Match,
    /// What it does.
    pub action: Action,
}

/// Why rules cannot be built or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// A target's layout is not 32 bits wide.
    #[error("the {0:?} target's layout is not 32 bits wide")]
    LayoutWidth(Protocol),
    /// A target's identifier offset is not a multiple of 4 up to 64.
    #[error("the {protocol:?} target's identifier offset {offset} is not a multiple of 4 up to 64")]
    Unaligned {
        /// The target's protocol.
        protocol: Protocol,
        /// The offset.
        offset: u8,
    },
    /// More targets than [`MAX_TARGETS`].
    #[error("{0} targets, at most {MAX_TARGETS}")]
    TooManyTargets(usize),
    /// More UE prefixes than [`MAX_PREFIXES`].
    #[error("{0} UE prefixes, at most {MAX_PREFIXES}")]
    TooManyPrefixes(usize),
    /// A VID beyond a tc `u32` node id (12 bits).
    #[error("VID {0} exceeds the 12-bit node id of a tc u32 rule")]
    NodeSpace(VirtualId),
    /// The caller's mapping names no device or queue for this processor.
    #[error("no device or queue for the processor at {0}")]
    NoEgress(SocketAddr),
    /// A device name that is empty, over 15 octets, or not a single shell word.
    #[error("bad device name {0:?}")]
    BadDevice(String),
    /// tc `u32` hash table ids past 0x7ff (the kernel's own start at 0x800).
    #[error("hash table id {0:#x} past 0x7ff")]
    TableSpace(u32),
    /// A NIC cannot express the rule (see [`ntuple`]).
    #[error("ethtool ntuple cannot express this: {0}")]
    NotExpressible(ntuple::Inexpressible),
    /// The ntuple table is full.
    #[error("the ntuple table's {0} locations are in use")]
    NtupleFull(u32),
}

/// The rules equivalent to one [`VidTable`] version (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    version: u64,
    targets: Vec<Target>,
    rules: Vec<Rule>,
}

/// The change from one [`RuleSet`] to a newer one, applied in this order: `removed`, `changed`,
/// `added`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleDiff {
    /// Rules whose key the newer set lacks.
    pub removed: Vec<Rule>,
    /// Rules whose key both sets have, with a different match or action: `(older, newer)`.
    pub changed: Vec<(Rule, Rule)>,
    /// Rules whose key the older set lacks.
    pub added: Vec<Rule>,
    /// The targets differ, or one set has IPv6 UE prefixes and the other none: the lists
    /// themselves change, reinstall everything (`removed` holds every older rule, `added` every
    /// newer one).
    pub targets_changed: bool,
}

impl RuleDiff {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty()
            && self.changed.is_empty()
            && self.added.is_empty()
            && !self.targets_changed
    }
}

impl RuleSet {
    /// The rules for `table` on `targets` and the downlink `prefixes`.
    ///
    /// Errors: a target that is not a 32-bit layout at an aligned offset, more than
    /// [`MAX_TARGETS`] targets or [`MAX_PREFIXES`] prefixes. VIDs of the table
    /// beyond a target's layout are ignored for that target (no identifier can carry them).
    pub fn new(
        table: &VidTable,
        targets: &[Target],
        prefixes: &[UePrefix],
    ) -> Result<RuleSet, RuleError> {
        if targets.len() > MAX_TARGETS {
            return Err(RuleError::TooManyTargets(targets.len()));
        }
        if prefixes.len() > MAX_PREFIXES {
            return Err(RuleError::TooManyPrefixes(prefixes.len()));
        }
        let entries: BTreeMap<VirtualId, (VidState, SocketAddr)> = table
            .entries()
            .map(|e| (e.vid, (e.state, e.addr)))
            .collect();
        let up = |v: VirtualId| match entries.get(&v) {
            Some(&(VidState::Up, addr)) => Some(addr),
            _ => None,
        };
        let mut rules = downlink(prefixes, &up)?;
        for (t, target) in targets.iter().enumerate() {
            target.check()?;
            let t = u8::try_from(t).map_err(|_| RuleError::TooManyTargets(targets.len()))?;
            uplink(t, target, &entries, &mut rules);
        }
        rules.sort_by_key(|r| r.key);
        Ok(RuleSet {
            version: table.version(),
            targets: targets.to_vec(),
            rules,
        })
    }

    /// The table version the rules were built from.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The targets, in list order.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The rules, in key order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether any rule is an IPv4 downlink one.
    pub fn has_downlink(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.key, RuleKey::UePrefix(_)))
    }

    /// Whether any rule is an IPv6 downlink one.
    pub fn has_downlink_v6(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.key, RuleKey::UePrefix6(_)))
    }

    /// What the rules do with one IP packet (the octets from the IPv4 or IPv6 header on),
    /// evaluated as the kernel's `u32` classifier evaluates the filters [`Tc`] renders: the
    /// processor it is steered to, or `None` when it continues to the host (no rule,
    /// [`Action::Pass`], a fragment, neither IPv4 nor IPv6, or too short for a key, which ends
    /// `u32` matching). An IPv6 packet meets only the IPv6 UE prefix rules. Never panics.
    pub fn classify(&self, ip_packet: &[u8]) -> Option<Steer> {
        eval::classify(self, ip_packet)
    }

    /// The rules to remove, change and add to go from `self` to `newer`.
    pub fn diff(&self, newer: &RuleSet) -> RuleDiff {
        if self.targets != newer.targets || self.has_downlink_v6() != newer.has_downlink_v6() {
            return RuleDiff {
                removed: self.rules.clone(),
                changed: Vec::new(),
                added: newer.rules.clone(),
                targets_changed: true,
            };
        }
        let old: BTreeMap<RuleKey, &Rule> = self.rules.iter().map(|r| (r.key, r)).collect();
        let new: BTreeMap<RuleKey, &Rule> = newer.rules.iter().map(|r| (r.key, r)).collect();
        let mut diff = RuleDiff::default();
        for r in &self.rules {
            match new.get(&r.key) {
                None => diff.removed.push(*r),
                Some(n) if *n != r => diff.changed.push((*r, **n)),
                Some(_) => {}
            }
        }
        diff.added = newer
            .rules
            .iter()
            .filter(|r| !old.contains_key(&r.key))
            .copied()
            .collect();
        diff
    }
}

/// The downlink rules: per family, prefixes sorted longest first (then by address, then as
/// given), numbered from 1.
fn downlink(
    prefixes: &[UePrefix],
    up: &dyn Fn(VirtualId) -> Option<SocketAddr>,
) -> Result<Vec<Rule>, RuleError> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for p in prefixes {
        match p.prefix {
            IpNetwork::V4(n) => v4.push((n, p)),
            IpNetwork::V6(n) => v6.push((n, p)),
        }
    }
    v4.sort_by_key(|(n, _)| (std::cmp::Reverse(n.prefix()), n.network()));
    v6.sort_by_key(|(n, _)| (std::cmp::Reverse(n.prefix()), n.network()));
    let steer = |p: &UePrefix| match (up(p.vid), p.backup) {
        (Some(addr), _) => Some(Steer {
            vid: p.vid,
            addr,
            backup: false,
        }),
        (None, Some(b)) => up(b).map(|addr| Steer {
            vid: b,
            addr,
            backup: true,
        }),
        (None, None) => None,
    };
    let node =
        |i: usize| u16::try_from(i + 1).map_err(|_| RuleError::TooManyPrefixes(prefixes.len()));
    let mut rules = Vec::with_capacity(prefixes.len());
    for (i, (n, p)) in v4.into_iter().enumerate() {
        rules.push(Rule {
            key: RuleKey::UePrefix(node(i)?),
            matcher: Match::Destination(Ipv4Network::new(n.network(), n.prefix()).unwrap_or(n)),
            action: steer(p).map_or(Action::Pass, Action::Steer),
        });
    }
    for (i, (n, p)) in v6.into_iter().enumerate() {
        rules.push(Rule {
            key: RuleKey::UePrefix6(node(i)?),
            matcher: Match::Destination6(Ipv6Network::new(n.network(), n.prefix()).unwrap_or(n)),
            action: steer(p).map_or(Action::Pass, Action::Steer),
        });
    }
    Ok(rules)
}

/// The primary and backup lists of target `t`.
fn uplink(
    t: u8,
    target: &Target,
    entries: &BTreeMap<VirtualId, (VidState, SocketAddr)>,
    rules: &mut Vec<Rule>,
) {
    let layout = target.layout;
    let primary = layout.primary_field();
    let backup = layout.backup_field();
    let fits = |v: VirtualId| v.get() <= layout.max_vid();
    let any_up = entries
        .iter()
        .any(|(v, (s, _))| *s == VidState::Up && fits(*v));
    for (&vid, &(state, addr)) in entries.iter().filter(|(v, _)| fits(**v)) {
        let action = match (state, backup) {
            (VidState::Up, _) => Action::Steer(Steer {
                vid,
                addr,
                backup: false,
            }),
            (VidState::Down, Some(_)) if any_up => Action::Failover,
            (VidState::Down, _) => continue,
        };
        rules.push(Rule {
            key: RuleKey::Primary { target: t, vid },
            matcher: Match::Id {
                target: *target,
                value: u32::from(vid.get()) << primary.shift,
                mask: primary.mask(),
            },
            action,
        });
        if let (Some(b), VidState::Up) = (backup, state) {
            rules.push(Rule {
                key: RuleKey::Backup { target: t, vid },
                matcher: Match::Id {
                    target: *target,
                    value: u32::from(vid.get()) << b.shift,
                    mask: b.mask(),
                },
                action: Action::Steer(Steer {
                    vid,
                    addr,
                    backup: true,
                }),
            });
        }
    }
}
