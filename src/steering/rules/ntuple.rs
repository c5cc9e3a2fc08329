//! ethtool ntuple rules (`ethtool -N <dev> flow-type ...`): the NIC steers to a receive queue.
//!
//! A NIC's ntuple filters match header fields exactly (with masks on addresses and ports), but
//! payload octets only through the driver-specific `user-def` field. The form used here is the
//! Intel `i40e`/`ice` flexible-payload convention: `user-def 0x<offset:16><value:16>`, two
//! octets at an even offset from the start of the UDP payload, compared in full (a partial mask
//! is refused by those drivers). Hence what can and cannot be expressed:
//!
//! * **GTP-U only** ([`super::Protocol::GtpU`]). No first-octet test is possible, so on port 2123
//!   a GTPv2-C message without a TEID (T flag clear) would be steered by its sequence number, and
//!   on port 8805 a PFCP node message by its sequence number: [`Inexpressible::Protocol`]. On
//!   port 2152 only GTPv1-U is spoken; a non-GTP datagram to 2152 whose octets 4-5 equal a rule
//!   reaches that processor instead of being dropped by the line interface (the processor's
//!   parser then refuses it).
//! * **The VID fields fill one aligned 16-bit half of the TEID**, e.g. [`VidLayout::teid32`]`(8,
//!   8)` (primary and backup in octets 4-5) or `(16, 0)`; otherwise
//!   [`Inexpressible::Layout`] (matching the primary field alone would need a mask or one rule
//!   per value of the other bits).
//! * With a backup field, the exact two-octet match enumerates pairs: an Up VID `p` gets one rule
//!   per backup value a TEID may carry (0 and every VID of the table), a Down VID one rule per Up
//!   VID its TEIDs may name as backup. For `n` VIDs that is about `n²` rules: size
//!   [`Ntuple::new`]'s `capacity` accordingly. A TEID whose backup field names a VID outside the
//!   table (forged) matches no rule and is steered in software.
//! * **Downlink**: `flow-type ip4 dst-ip <address> m <ignored bits>` (ethtool's `m` names the bits
//!   *not* compared), `flow-type ip6 dst-ip <address> m <ignored bits>` for IPv6 prefixes, for
//!   prefixes (of one family) that do not overlap: a NIC applies the lowest location first
//!   and locations cannot follow longest-prefix order as rules come and go
//!   ([`Inexpressible::Overlap`]). A prefix whose VIDs are all down gets no rule.
//! * Fragments: a NIC may match the first fragment of a datagram on its UDP fields and not the
//!   others; keep GTP-U unfragmented (TS 29.281 section 4.4.2.4 leaves fragmentation to the
//!   outer IP) or steer in software.
//!
//! Locations are allocated by [`Ntuple`], which remembers what it installed, so an update
//! deletes, rewrites and adds only the rules that change.

use super::{RuleError, Steer, Target, UePrefix};
use crate::steering::fabric::VidState;
use crate::steering::line::VidTable;
#[cfg(doc)]
use crate::steering::vid::VidLayout;
use crate::steering::vid::VirtualId;
use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a NIC cannot express the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inexpressible {
    /// The target is not GTP-U: the first octet cannot be tested.
    Protocol(super::Protocol),
    /// The VID fields do not fill one aligned 16-bit half of the identifier.
    Layout,
    /// Two UE prefixes overlap.
    Overlap(Ipv4Network, Ipv4Network),
    /// Two IPv6 UE prefixes overlap.
    Overlap6(Ipv6Network, Ipv6Network),
}

impl fmt::Display for Inexpressible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inexpressible::Protocol(p) => write!(f, "{p:?} needs a first-octet test"),
            Inexpressible::Layout => {
                f.write_str("the VID fields do not fill one aligned 16-bit half of the TEID")
            }
            Inexpressible::Overlap(a, b) => write!(f, "UE prefixes {a} and {b} overlap"),
            Inexpressible::Overlap6(a, b) => write!(f, "UE prefixes {a} and {b} overlap"),
        }
    }
}

/// What an ntuple rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NtupleMatch {
    /// UDP over IPv4 to `port`, the two octets at `offset` of the UDP payload equal to `value`.
    Flex {
        /// The UDP destination port.
        port: u16,
        /// Offset in the UDP payload (even).
        offset: u16,
        /// The two octets, big-endian.
        value: u16,
    },
    /// IPv4 to an address in the prefix.
    Destination(Ipv4Network),
    /// IPv6 to an address in the prefix.
    Destination6(Ipv6Network),
}

/// One ntuple rule: a match and the processor whose queue receives the packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NtupleRule {
    /// What it matches.
    pub matcher: NtupleMatch,
    /// Where the packets go.
    pub steer: Steer,
}

impl NtupleRule {
    /// Whether an IPv4 datagram to `dst`, UDP destination port `port` (`None`: not UDP) with
    /// `udp_payload`, matches.
    pub fn matches(&self, dst: Ipv4Addr, port: Option<u16>, udp_payload: &[u8]) -> bool {
        self.matches_ip(IpAddr::V4(dst), port, udp_payload)
    }

    /// Whether an IP datagram (IPv4 or IPv6) to `dst`, UDP destination port `port` (`None`: not
    /// UDP) with `udp_payload`, matches. The flexible-payload rules are UDP over IPv4 only.
    pub fn matches_ip(&self, dst: IpAddr, port: Option<u16>, udp_payload: &[u8]) -> bool {
        match self.matcher {
            NtupleMatch::Flex {
                port: p,
                offset,
                value,
            } => {
                let at = usize::from(offset);
                dst.is_ipv4()
                    && port == Some(p)
                    && udp_payload.get(at..at + 2) == Some(value.to_be_bytes().as_slice())
            }
            NtupleMatch::Destination(n) => matches!(dst, IpAddr::V4(a) if n.contains(a)),
            NtupleMatch::Destination6(n) => matches!(dst, IpAddr::V6(a) if n.contains(a)),
        }
    }
}

/// The processor the first matching rule steers to (a NIC tries the lowest location first; the
/// rules [`rules`] builds never overlap, so order does not matter).
pub fn classify(
    rules: &[NtupleRule],
    dst: Ipv4Addr,
    port: Option<u16>,
    udp_payload: &[u8],
) -> Option<Steer> {
    classify_ip(rules, IpAddr::V4(dst), port, udp_payload)
}

/// [`classify`] for an IPv4 or IPv6 destination.
pub fn classify_ip(
    rules: &[NtupleRule],
    dst: IpAddr,
    port: Option<u16>,
    udp_payload: &[u8],
) -> Option<Steer> {
    rules
        .iter()
        .find(|r| r.matches_ip(dst, port, udp_payload))
        .map(|r| r.steer)
}

/// The ntuple rules for `table` on a GTP-U `target` and the downlink `prefixes` (see the
/// [module documentation](self) for what is refused).
pub fn rules(
    table: &VidTable,
    target: &Target,
    prefixes: &[UePrefix],
) -> Result<Vec<NtupleRule>, RuleError> {
    let refuse = |why| Err(RuleError::NotExpressible(why));
    if target.protocol != super::Protocol::GtpU {
        return refuse(Inexpressible::Protocol(target.protocol));
    }
    target.check()?;
    let layout = target.layout;
    let fields = layout.primary_field().mask() | layout.backup_field().map_or(0, |b| b.mask());
    let high = match fields {
        0xffff_0000 => true,
        0x0000_ffff => false,
        _ => return refuse(Inexpressible::Layout),
    };
    let offset = u16::from(target.id_offset) + if high { 0 } else { 2 };
    let half = |word: u32| (if high { word >> 16 } else { word } & 0xffff) as u16;
    let entries: BTreeMap<VirtualId, (VidState, SocketAddr)> = table
        .entries()
        .filter(|e| e.vid.get() <= layout.max_vid())
        .map(|e| (e.vid, (e.state, e.addr)))
        .collect();
    let up: Vec<(VirtualId, SocketAddr)> = entries
        .iter()
        .filter(|(_, (s, _))| *s == VidState::Up)
        .map(|(v, (_, a))| (*v, *a))
        .collect();
    let word = |p: VirtualId, b: u16| {
        let mut w = u32::from(p.get()) << layout.primary_field().shift;
        if let Some(f) = layout.backup_field() {
            w |= u32::from(b) << f.shift;
        }
        half(w)
    };
    let flex = |value| NtupleMatch::Flex {
        port: target.port,
        offset,
        value,
    };
    let mut out = Vec::new();
    for (&p, &(state, addr)) in &entries {
        let backups: Vec<u16> = match layout.backup_field() {
            None => vec![0],
            Some(_) => std::iter::once(0)
                .chain(entries.keys().map(|v| v.get()))
                .collect(),
        };
        match state {
            VidState::Up => out.extend(backups.into_iter().map(|b| NtupleRule {
                matcher: flex(word(p, b)),
                steer: Steer {
                    vid: p,
                    addr,
                    backup: false,
                },
            })),
            VidState::Down if layout.backup_field().is_some() => {
                out.extend(up.iter().map(|&(b, addr)| NtupleRule {
                    matcher: flex(word(p, b.get())),
                    steer: Steer {
                        vid: b,
                        addr,
                        backup: true,
                    },
                }));
            }
            VidState::Down => {}
        }
    }
    out.extend(downlink(prefixes, &entries)?);
    Ok(out)
}

fn downlink(
    prefixes: &[UePrefix],
    entries: &BTreeMap<VirtualId, (VidState, SocketAddr)>,
) -> Result<Vec<NtupleRule>, RuleError> {
    let up = |v: VirtualId| match entries.get(&v) {
        Some(&(VidState::Up, a)) => Some(a),
        _ => None,
    };
    let mut nets: Vec<Ipv4Network> = Vec::new();
    let mut nets6: Vec<Ipv6Network> = Vec::new();
    let mut out = Vec::new();
    for p in prefixes {
        let matcher = match p.prefix {
            IpNetwork::V4(n) => {
                if let Some(o) = nets
                    .iter()
                    .find(|o| o.contains(n.network()) || n.contains(o.network()))
                {
                    return Err(RuleError::NotExpressible(Inexpressible::Overlap(*o, n)));
                }
                nets.push(n);
                NtupleMatch::Destination(Ipv4Network::new(n.network(), n.prefix()).unwrap_or(n))
            }
            IpNetwork::V6(n) => {
                if let Some(o) = nets6
                    .iter()
                    .find(|o| o.contains(n.network()) || n.contains(o.network()))
                {
                    return Err(RuleError::NotExpressible(Inexpressible::Overlap6(*o, n)));
                }
                nets6.push(n);
                NtupleMatch::Destination6(Ipv6Network::new(n.network(), n.prefix()).unwrap_or(n))
            }
        };
        let steer = match (up(p.vid), p.backup) {
            (Some(addr), _) => Some((p.vid, addr, false)),
            (None, Some(b)) => up(b).map(|a| (b, a, true)),
            (None, None) => None,
        };
        if let Some((vid, addr, backup)) = steer {
            out.push(NtupleRule {
                matcher,
                steer: Steer { vid, addr, backup },
            });
        }
    }
    Ok(out)
}

/// Renders ntuple rules as `ethtool -N` lines for one device, allocating rule locations
/// and remembering what it installed, so [`Ntuple::sync`] emits only the changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ntuple {
    dev: String,
    first_loc: u32,
    capacity: u32,
    queues: BTreeMap<SocketAddr, u32>,
    installed: BTreeMap<NtupleMatch, (u32, Steer)>,
}

impl Ntuple {
    /// For `dev`, using the `capacity` locations from `first_loc` on (at most the NIC's table
    /// size, `ethtool -n <dev>` shows it).
    pub fn new(dev: &str, first_loc: u32, capacity: u32) -> Ntuple {
        Ntuple {
            dev: dev.to_string(),
            first_loc,
            capacity,
            queues: BTreeMap::new(),
            installed: BTreeMap::new(),
        }
    }

    /// Maps the processor at fabric address `processor` to receive queue `queue`.
    pub fn with_queue(mut self, processor: SocketAddr, queue: u32) -> Ntuple {
        self.queues.insert(processor, queue);
        self
    }

    /// The rules installed, by location.
    pub fn installed(&self) -> BTreeMap<u32, NtupleRule> {
        self.installed
            .iter()
            .map(|(m, (loc, steer))| {
                (
                    *loc,
                    NtupleRule {
                        matcher: *m,
                        steer: *steer,
                    },
                )
            })
            .collect()
    }

    /// The lines taking the NIC from what is installed to `rules`: `ethtool -N <dev> delete
    /// <loc>` for rules gone, then `ethtool -N <dev> flow-type ... loc <loc>` for rules whose
    /// queue changed (written over their location, which replaces them) and for new rules (at
    /// the lowest free locations). Errors (nothing is changed): a processor without a queue, a
    /// bad device name, more rules than `capacity` ([`RuleError::NtupleFull`]).
    pub fn sync(&mut self, rules: &[NtupleRule]) -> Result<Vec<String>, RuleError> {
        let dev = super::tc::check_dev(&self.dev)?.to_string();
        let want: BTreeMap<NtupleMatch, Steer> =
            rules.iter().map(|r| (r.matcher, r.steer)).collect();
        let mut next = self.installed.clone();
        let mut lines = Vec::new();
        next.retain(|m, (loc, _)| {
            let keep = want.contains_key(m);
            if !keep {
                lines.push(format!("ethtool -N {dev} delete {loc}"));
            }
            keep
        });
        let mut used: BTreeSet<u32> = next.values().map(|(l, _)| *l).collect();
        let mut free = (0..self.capacity).map(|i| self.first_loc.saturating_add(i));
        for (m, steer) in &want {
            let loc = match next.get(m) {
                Some((_, s)) if s == steer => continue,
                Some((loc, _)) => *loc,
                None => free
                    .find(|l| !used.contains(l))
                    .ok_or(RuleError::NtupleFull(self.capacity))?,
            };
            used.insert(loc);
            let queue = self
                .queues
                .get(&steer.addr)
                .ok_or(RuleError::NoEgress(steer.addr))?;
            lines.push(format!(
                "ethtool -N {dev} {} action {queue} loc {loc}",
                flow(m)
            ));
            next.insert(*m, (loc, *steer));
        }
        self.installed = next;
        Ok(lines)
    }
}

/// The `flow-type ...` words of a match.
fn flow(m: &NtupleMatch) -> String {
    match m {
        NtupleMatch::Flex {
            port,
            offset,
            value,
        } => format!(
            "flow-type udp4 dst-port {port} user-def {:#x}",
            (u32::from(*offset) << 16) | u32::from(*value)
        ),
        NtupleMatch::Destination(n) => format!(
            "flow-type ip4 dst-ip {} m {}",
            n.network(),
            Ipv4Addr::from(!u32::from(n.mask()))
        ),
        NtupleMatch::Destination6(n) => format!(
            "flow-type ip6 dst-ip {} m {}",
            n.network(),
            Ipv6Addr::from(!u128::from(n.mask()))
        ),
    }
}
