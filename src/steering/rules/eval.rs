//! [`RuleSet::classify`]: the rules evaluated over packet octets the way the kernel's `u32`
//! classifier evaluates the filters [`super::Tc`] renders (net/sched/cls_u32.c): 32-bit keys
//! `(word ^ value) & mask == 0` read big-endian at an offset from the IPv4 (IPv6) header, `nexthdr+`
//! keys offset further by the IHL x 4 the linking filter computed; a mismatch moves to the next
//! filter of the list; a key past the end of the packet ends the classification with no match.

use super::{Action, Match, Rule, RuleKey, RuleSet, Steer, Target};

/// One `u32` key, as tc packs `match u8/u16/u32/ip ...` into 32-bit words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    pub value: u32,
    pub mask: u32,
    /// Offset of the 32-bit word, a multiple of 4.
    pub off: usize,
    /// Whether the offset is from the transport header (`at nexthdr+`).
    pub nexthdr: bool,
}

/// Evaluation stopped: a key read past the end of the packet.
struct Abort;

/// The outcome of a list.
enum Outcome {
    Steer(Steer),
    Pass,
    NoMatch,
}

/// The keys of the filter linking to every target's primary list: UDP, not a fragment.
pub(super) const UDP_NOT_FRAGMENT: [Key; 2] = [
    // match ip protocol 17 0xff
    Key {
        value: 0x0011_0000,
        mask: 0x00ff_0000,
        off: 8,
        nexthdr: false,
    },
    // match u16 0 0x3fff at 6: MF clear, fragment offset 0
    Key {
        value: 0,
        mask: 0x0000_3fff,
        off: 4,
        nexthdr: false,
    },
];

/// The keys of a rule (besides those of the filter linking to its list).
pub(super) fn keys(rule: &Rule) -> ([Key; 4], usize) {
    let none = Key {
        value: 0,
        mask: 0,
        off: 0,
        nexthdr: false,
    };
    match (rule.key, rule.matcher) {
        (
            RuleKey::Primary { .. },
            Match::Id {
                target,
                value,
                mask,
            },
        ) => {
            let [port, octet0] = target_keys(&target);
            ([port, octet0, id_key(&target, value, mask), none], 3)
        }
        (
            _,
            Match::Id {
                target,
                value,
                mask,
            },
        ) => ([id_key(&target, value, mask), none, none, none], 1),
        (_, Match::Destination(n)) => (
            [
                Key {
                    value: u32::from(n.network()),
                    mask: u32::from(n.mask()),
                    off: 16,
                    nexthdr: false,
                },
                none,
                none,
                none,
            ],
            1,
        ),
        // tc's `match ip6 dst <prefix>`: one key per 32-bit word of the destination address
        // (octets 24 to 39 of the IPv6 header) the prefix covers.
        (_, Match::Destination6(n)) => {
            let addr = u128::from(n.network());
            let mask = u128::from(n.mask());
            let mut out = [none; 4];
            let mut k = 0;
            for i in 0..4u32 {
                let shift = 96 - 32 * i;
                let m = (mask >> shift) as u32;
                if m == 0 {
                    break;
                }
                if let Some(slot) = out.get_mut(k) {
                    *slot = Key {
                        value: (addr >> shift) as u32 & m,
                        mask: m,
                        off: 24 + 4 * i as usize,
                        nexthdr: false,
                    };
                }
                k += 1;
            }
            (out, k)
        }
    }
}

/// The destination port and first-octet keys of a target.
fn target_keys(t: &Target) -> [Key; 2] {
    [
        // match u16 <port> 0xffff at nexthdr+2
        Key {
            value: u32::from(t.port),
            mask: 0xffff,
            off: 0,
            nexthdr: true,
        },
        // match u8 <octet0> <mask> at nexthdr+8
        Key {
            value: u32::from(t.octet0) << 24,
            mask: u32::from(t.octet0_mask) << 24,
            off: 8,
            nexthdr: true,
        },
    ]
}

fn id_key(t: &Target, value: u32, mask: u32) -> Key {
    Key {
        value,
        mask,
        off: 8 + usize::from(t.id_offset),
        nexthdr: true,
    }
}

/// Whether every key matches; `Err` when one reads past the end.
fn matches(keys: &[Key], packet: &[u8], nexthdr: usize) -> Result<bool, Abort> {
    for k in keys {
        let at = k.off + if k.nexthdr { nexthdr } else { 0 };
        let w = packet.get(at..at + 4).ok_or(Abort)?;
        let word = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
        if (word ^ k.value) & k.mask != 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The first rule of `list` matching, then its action (a failover continuing in `backups`).
fn run<'a>(
    list: impl Iterator<Item = &'a Rule>,
    backups: &dyn Fn() -> Vec<&'a Rule>,
    packet: &[u8],
    nexthdr: usize,
) -> Result<Outcome, Abort> {
    for rule in list {
        let (keys, n) = keys(rule);
        if !matches(keys.get(..n).unwrap_or(&[]), packet, nexthdr)? {
            continue;
        }
        match rule.action {
            Action::Steer(s) => return Ok(Outcome::Steer(s)),
            Action::Pass => return Ok(Outcome::Pass),
            // A link: try the backup list; without a match there, u32 goes on with the next
            // filter of this list.
            Action::Failover => {
                if let Outcome::Steer(s) = run(backups().into_iter(), &Vec::new, packet, nexthdr)? {
                    return Ok(Outcome::Steer(s));
                }
            }
        }
    }
    Ok(Outcome::NoMatch)
}

pub(super) fn classify(set: &RuleSet, packet: &[u8]) -> Option<Steer> {
    classify_inner(set, packet).ok().flatten()
}

fn classify_inner(set: &RuleSet, packet: &[u8]) -> Result<Option<Steer>, Abort> {
    // tc `protocol ipv6`: only the IPv6 UE prefix list (at the next priority).
    if packet.first().is_some_and(|b| b >> 4 == 6) {
        let down = set
            .rules
            .iter()
            .filter(|r| matches!(r.key, RuleKey::UePrefix6(_)));
        return match run(down, &Vec::new, packet, 0)? {
            Outcome::Steer(s) => Ok(Some(s)),
            Outcome::Pass | Outcome::NoMatch => Ok(None),
        };
    }
    // tc `protocol ip`: the caller's packet is IPv4.
    if packet.first().is_none_or(|b| b >> 4 != 4) {
        return Ok(None);
    }
    // The root list: the downlink link first (`match u32 0 0 at 0`), then one link per target.
    if set.has_downlink() {
        let down = set
            .rules
            .iter()
            .filter(|r| matches!(r.key, RuleKey::UePrefix(_)));
        match run(down, &Vec::new, packet, 0)? {
            Outcome::Steer(s) => return Ok(Some(s)),
            Outcome::Pass => return Ok(None),
            Outcome::NoMatch => {}
        }
    }
    for t in 0..set.targets.len() {
        if !matches(&UDP_NOT_FRAGMENT, packet, 0)? {
            continue;
        }
        // offset at 0 mask 0x0f00 shift 6: the IHL in octets.
        let nexthdr = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
        let primary = set.rules.iter().filter(
            |r| matches!(r.key, RuleKey::Primary { target, .. } if usize::from(target) == t),
        );
        let backups = || {
            set.rules
                .iter()
                .filter(
                    |r| matches!(r.key, RuleKey::Backup { target, .. } if usize::from(target) == t),
                )
                .collect::<Vec<_>>()
        };
        match run(primary, &backups, packet, nexthdr)? {
            Outcome::Steer(s) => return Ok(Some(s)),
            Outcome::Pass => return Ok(None),
            Outcome::NoMatch => {}
        }
    }
    Ok(None)
}
