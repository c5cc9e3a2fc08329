use super::ntuple::{self, Inexpressible, Ntuple, NtupleMatch};
use super::*;
use crate::steering::fabric::TableEntry;
use crate::steering::line::Verdict;
use crate::steering::ue_pool::UePool;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn vid(n: u16) -> VirtualId {
    VirtualId::new(n).unwrap()
}

fn addr(n: u16) -> SocketAddr {
    SocketAddr::from(([172, 16, 1, n as u8], 4000))
}

fn entry(n: u16, up: bool) -> TableEntry {
    TableEntry {
        vid: vid(n),
        state: if up { VidState::Up } else { VidState::Down },
        addr: addr(n),
    }
}

fn table(version: u64, entries: &[TableEntry]) -> VidTable {
    VidTable::with_entries(VidLayout::default(), None, version, entries)
}

/// An IPv4 packet with `ihl` 32-bit words of header, the fragment field `frag`, to `dst`,
/// carrying UDP to `port` with `payload`.
pub(super) fn ipv4_udp(ihl: u8, frag: u16, dst: Ipv4Addr, port: u16, payload: &[u8]) -> Vec<u8> {
    let hl = usize::from(ihl) * 4;
    let total = hl + 8 + payload.len();
    let mut p = vec![0u8; hl];
    p[0] = 0x40 | ihl;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[6..8].copy_from_slice(&frag.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&[198, 18, 0, 1]);
    p[16..20].copy_from_slice(&dst.octets());
    p.extend_from_slice(&40000u16.to_be_bytes());
    p.extend_from_slice(&port.to_be_bytes());
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

fn g_pdu(teid: u32) -> Vec<u8> {
    let mut g = vec![0x30, 0xff, 0, 4];
    g.extend_from_slice(&teid.to_be_bytes());
    g.extend_from_slice(&[0x45, 0, 0, 0]);
    g
}

const GW: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

fn tc() -> Tc {
    (1..=9).fold(Tc::new("eth0", 10), |t, n| {
        t.with_egress(addr(n), &format!("proc{n}"))
    })
}

#[test]
fn renders_tc_u32_lines() {
    let t = table(1, &[entry(4, true), entry(9, true), entry(6, false)]);
    let prefixes = [UePrefix {
        prefix: "10.45.4.0/24".parse().unwrap(),
        vid: vid(4),
        backup: None,
    }];
    let set = RuleSet::new(&t, &[Target::gtp_u(VidLayout::default())], &prefixes).unwrap();
    let h = "tc filter add dev eth0 ingress prio 10 protocol ip";
    let gtp = "match u16 2152 0xffff at nexthdr+2 match u8 0x30 0xf0 at nexthdr+8";
    let expected = [
        format!("{h} handle 100: u32 divisor 1"),
        format!("{h} handle 101: u32 divisor 1"),
        format!("{h} handle 102: u32 divisor 1"),
        format!("{h} u32 match u32 0 0 at 0 link 100:"),
        format!(
            "{h} u32 match ip protocol 17 0xff match u16 0 0x3fff at 6 offset at 0 mask 0x0f00 \
             shift 6 link 101:"
        ),
        format!(
            "{h} handle 100::1 u32 ht 100: match ip dst 10.45.4.0/24 action mirred egress \
             redirect dev proc4"
        ),
        format!(
            "{h} handle 101::4 u32 ht 101: {gtp} match u32 0x04000000 0xff000000 at nexthdr+12 \
             action mirred egress redirect dev proc4"
        ),
        format!(
            "{h} handle 101::6 u32 ht 101: {gtp} match u32 0x06000000 0xff000000 at nexthdr+12 \
             link 102:"
        ),
        format!(
            "{h} handle 101::9 u32 ht 101: {gtp} match u32 0x09000000 0xff000000 at nexthdr+12 \
             action mirred egress redirect dev proc9"
        ),
        format!(
            "{h} handle 102::4 u32 ht 102: match u32 0x00040000 0x00ff0000 at nexthdr+12 action \
             mirred egress redirect dev proc4"
        ),
        format!(
            "{h} handle 102::9 u32 ht 102: match u32 0x00090000 0x00ff0000 at nexthdr+12 action \
             mirred egress redirect dev proc9"
        ),
    ];
    assert_eq!(tc().install(&set).unwrap(), expected);
    assert_eq!(tc().qdisc().unwrap(), "tc qdisc add dev eth0 ingress");
    assert_eq!(
        tc().teardown().unwrap(),
        ["tc filter del dev eth0 ingress prio 10"]
    );
    assert_eq!(
        tc().flower_downlink(&set, 20).unwrap(),
        [
            "tc filter add dev eth0 ingress prio 20 protocol ip flower dst_ip 10.45.4.0/24 action \
          mirred egress redirect dev proc4"
        ]
    );
}

#[test]
fn other_targets_test_their_first_octet() {
    let l = VidLayout::default();
    let t = table(1, &[entry(3, true)]);
    let targets = [Target::gtpv2_c(l), Target::pfcp(l)];
    let set = RuleSet::new(&t, &targets, &[]).unwrap();
    let lines = tc().install(&set).unwrap();
    assert!(lines.iter().any(|s| s.contains(
        "handle 103::3 u32 ht 103: match u16 8805 0xffff at nexthdr+2 match u8 0x21 0xe1 at \
         nexthdr+8 match u32 0x03000000 0xff000000 at nexthdr+12"
    )));
    assert!(lines.iter().any(|s| s.contains(
        "handle 101::3 u32 ht 101: match u16 2123 0xffff at nexthdr+2 match u8 0x48 0xe8 at \
         nexthdr+8"
    )));
    // A GTPv2-C message with the T flag and a PFCP session message steer; without the flags
    // they do not (their octets 4-7 are then a sequence number).
    let teid = l.compose(vid(3), None, 1).unwrap().to_be_bytes();
    let msg = |o0: u8, port| {
        let mut m = vec![o0, 32, 0, 8];
        m.extend_from_slice(&teid);
        m.extend_from_slice(&[0; 8]);
        set.classify(&ipv4_udp(5, 0, GW, port, &m))
    };
    assert_eq!(msg(0x48, 2123).map(|s| s.vid), Some(vid(3)));
    assert_eq!(msg(0x40, 2123), None);
    assert_eq!(msg(0x21, 8805).map(|s| s.vid), Some(vid(3)));
    assert_eq!(msg(0x20, 8805), None);
}

#[test]
fn an_update_changes_only_the_rules_that_change() {
    let targets = Target::gtpv1(VidLayout::default());
    let old = RuleSet::new(&table(1, &[entry(4, true), entry(9, true)]), &targets, &[]).unwrap();
    let new = RuleSet::new(&table(2, &[entry(4, false), entry(9, true)]), &targets, &[]).unwrap();
    let diff = old.diff(&new);
    let keys = |rules: &[Rule]| rules.iter().map(|r| r.key).collect::<Vec<_>>();
    let (p, b) = (
        |target, n| RuleKey::Primary {
            target,
            vid: vid(n),
        },
        |target, n| RuleKey::Backup {
            target,
            vid: vid(n),
        },
    );
    assert_eq!(keys(&diff.removed), [b(0, 4), b(1, 4)]);
    let changed: Vec<Rule> = diff.changed.iter().map(|c| c.1).collect();
    assert_eq!(keys(&changed), [p(0, 4), p(1, 4)]);
    assert!(changed.iter().all(|r| r.action == Action::Failover));
    assert!(diff.added.is_empty());
    // A redirect becoming a link is deleted and added again (a u32 replace keeps links).
    assert_eq!(
        tc().update(&old, &new).unwrap()[..4],
        [
            "tc filter del dev eth0 ingress prio 10 handle 102::4 protocol ip u32",
            "tc filter del dev eth0 ingress prio 10 handle 104::4 protocol ip u32",
            "tc filter del dev eth0 ingress prio 10 handle 101::4 protocol ip u32",
            "tc filter add dev eth0 ingress prio 10 protocol ip handle 101::4 u32 ht 101: match \
             u16 2152 0xffff at nexthdr+2 match u8 0x30 0xf0 at nexthdr+8 match u32 0x04000000 \
             0xff000000 at nexthdr+12 link 102:",
        ]
    );
    // A prefix changing processor is replaced in place.
    let prefixes = [UePrefix {
        prefix: "10.45.4.0/24".parse().unwrap(),
        vid: vid(4),
        backup: Some(vid(9)),
    }];
    let t1 = table(1, &[entry(4, true), entry(9, true)]);
    let t2 = table(2, &[entry(4, false), entry(9, true)]);
    let (a, z) = (
        RuleSet::new(&t1, &[], &prefixes).unwrap(),
        RuleSet::new(&t2, &[], &prefixes).unwrap(),
    );
    assert_eq!(
        tc().update(&a, &z).unwrap(),
        [
            "tc filter replace dev eth0 ingress prio 10 protocol ip handle 100::1 u32 ht 100: match \
          ip dst 10.45.4.0/24 action mirred egress redirect dev proc9"
        ]
    );
    assert!(old.diff(&old).is_empty());
    // Other targets: the lists change, everything is reinstalled.
    let other = RuleSet::new(&table(2, &[entry(9, true)]), &targets[..1], &[]).unwrap();
    let lines = tc().update(&old, &other).unwrap();
    assert_eq!(lines[0], "tc filter del dev eth0 ingress prio 10");
    assert_eq!(lines.len(), 1 + tc().install(&other).unwrap().len());
}

#[test]
fn refusals_are_typed() {
    let l = VidLayout::default();
    let t = table(1, &[entry(4, true)]);
    let l16 = VidLayout::id16(4, 4).unwrap();
    assert_eq!(
        RuleSet::new(&t, &[Target::gtp_u(l16)], &[]),
        Err(RuleError::LayoutWidth(Protocol::GtpU))
    );
    let odd = Target {
        id_offset: 2,
        ..Target::gtp_u(l)
    };
    assert!(matches!(
        RuleSet::new(&t, &[odd], &[]),
        Err(RuleError::Unaligned { offset: 2, .. })
    ));
    let set = RuleSet::new(&t, &[Target::gtp_u(l)], &[]).unwrap();
    assert_eq!(
        Tc::new("eth0", 1).install(&set),
        Err(RuleError::NoEgress(addr(4)))
    );
    assert!(matches!(
        Tc::new("eth0; reboot", 1).install(&set),
        Err(RuleError::BadDevice(_))
    ));
    assert_eq!(
        tc().with_tables(0x7fe).install(&set),
        Err(RuleError::TableSpace(0x800))
    );
    let wide = VidLayout::teid32(16, 0).unwrap();
    let t = VidTable::with_entries(
        wide,
        None,
        1,
        &[TableEntry {
            vid: vid(5000),
            ..entry(1, true)
        }],
    );
    let set = RuleSet::new(&t, &[Target::gtp_u(wide)], &[]).unwrap();
    assert_eq!(tc().install(&set), Err(RuleError::NodeSpace(vid(5000))));
}

#[test]
fn down_prefixes_pass_so_a_shorter_prefix_does_not_catch_them() {
    let t = table(1, &[entry(4, false), entry(5, true), entry(6, true)]);
    let p = |s: &str, v, backup| UePrefix {
        prefix: s.parse().unwrap(),
        vid: vid(v),
        backup,
    };
    let prefixes = [
        p("10.45.0.0/16", 5, None),
        p("10.45.4.0/24", 4, None),
        p("10.45.7.0/24", 4, Some(vid(6))),
    ];
    let set = RuleSet::new(&t, &[], &prefixes).unwrap();
    let to = |a: [u8; 4]| set.classify(&ipv4_udp(5, 0, Ipv4Addr::from(a), 5000, b"x"));
    assert_eq!(to([10, 45, 4, 1]), None);
    assert_eq!(
        to([10, 45, 7, 1]),
        Some(Steer {
            vid: vid(6),
            addr: addr(6),
            backup: true
        })
    );
    assert_eq!(to([10, 45, 9, 1]).map(|s| s.vid), Some(vid(5)));
    assert_eq!(to([10, 46, 9, 1]), None);
    let lines = tc().install(&set).unwrap();
    assert!(lines.contains(
        &"tc filter add dev eth0 ingress prio 10 protocol ip handle 100::1 u32 ht 100: match ip \
          dst 10.45.4.0/24 classid 1:1"
            .to_string()
    ));
}

#[test]
fn renders_ethtool_lines() {
    let l = VidLayout::default();
    let t = table(1, &[entry(4, true), entry(9, false)]);
    let prefixes = [UePrefix {
        prefix: "10.45.4.0/22".parse().unwrap(),
        vid: vid(4),
        backup: None,
    }];
    let rules = ntuple::rules(&t, &Target::gtp_u(l), &prefixes).unwrap();
    let mut nic = Ntuple::new("eth1", 100, 8)
        .with_queue(addr(4), 4)
        .with_queue(addr(9), 9);
    let lines = nic.sync(&rules).unwrap();
    assert_eq!(
        lines,
        [
            // VID 4 Up, backup field 0, 4, 9; VID 9 Down, its backup 4 Up.
            "ethtool -N eth1 flow-type udp4 dst-port 2152 user-def 0x40400 action 4 loc 100",
            "ethtool -N eth1 flow-type udp4 dst-port 2152 user-def 0x40404 action 4 loc 101",
            "ethtool -N eth1 flow-type udp4 dst-port 2152 user-def 0x40409 action 4 loc 102",
            "ethtool -N eth1 flow-type udp4 dst-port 2152 user-def 0x40904 action 4 loc 103",
            "ethtool -N eth1 flow-type ip4 dst-ip 10.45.4.0 m 0.0.3.255 action 4 loc 104",
        ]
    );
    // VID 9 comes up: its own rules are added, the failover rule is rewritten in place.
    let t2 = table(2, &[entry(4, true), entry(9, true)]);
    let rules2 = ntuple::rules(&t2, &Target::gtp_u(l), &prefixes).unwrap();
    assert_eq!(
        nic.sync(&rules2).unwrap(),
        [
            "ethtool -N eth1 flow-type udp4 dst-port 2152 user-def 0x40900 action 9 loc 105",
            "ethtool -N eth1 flow-type udp4 dst-port 2152 user-def 0x40904 action 9 loc 103",
            "ethtool -N eth1 flow-type udp4 dst-port 2152 user-def 0x40909 action 9 loc 106",
        ]
    );
    // VID 4 goes: its rules are deleted, their locations reused.
    let t3 = table(3, &[entry(9, true)]);
    let rules3 = ntuple::rules(&t3, &Target::gtp_u(l), &[]).unwrap();
    assert_eq!(
        nic.sync(&rules3).unwrap(),
        [
            "ethtool -N eth1 delete 100",
            "ethtool -N eth1 delete 101",
            "ethtool -N eth1 delete 102",
            "ethtool -N eth1 delete 103",
            "ethtool -N eth1 delete 104",
        ]
    );
    assert_eq!(nic.installed().len(), 2);
    let again = nic.sync(&rules2).unwrap();
    assert_eq!(again.len(), 5);
    assert!(
        again
            .iter()
            .zip(100..)
            .all(|(l, loc)| l.ends_with(&format!("loc {loc}")))
    );
    assert!(nic.sync(&rules2).unwrap().is_empty());
    assert_eq!(
        Ntuple::new("eth1", 0, 3)
            .with_queue(addr(4), 4)
            .with_queue(addr(9), 9)
            .sync(&rules2),
        Err(RuleError::NtupleFull(3))
    );
}

#[test]
fn ethtool_refuses_what_a_nic_cannot_express() {
    let t = table(1, &[entry(4, true)]);
    let refused = |target, prefixes: &[UePrefix]| ntuple::rules(&t, &target, prefixes).err();
    let l = VidLayout::default();
    assert_eq!(
        refused(Target::gtpv2_c(l), &[]),
        Some(RuleError::NotExpressible(Inexpressible::Protocol(
            Protocol::GtpV2C
        )))
    );
    assert_eq!(
        refused(Target::gtp_u(VidLayout::teid32(8, 0).unwrap()), &[]),
        Some(RuleError::NotExpressible(Inexpressible::Layout))
    );
    assert_eq!(
        refused(Target::gtp_u(VidLayout::teid32(4, 4).unwrap()), &[]),
        Some(RuleError::NotExpressible(Inexpressible::Layout))
    );
    let p = |s: &str| UePrefix {
        prefix: s.parse().unwrap(),
        vid: vid(4),
        backup: None,
    };
    assert!(matches!(
        refused(Target::gtp_u(l), &[p("10.0.0.0/8"), p("10.1.0.0/16")]),
        Some(RuleError::NotExpressible(Inexpressible::Overlap(..)))
    ));
    // A 16-bit primary field without backup is one exact word.
    let wide = VidLayout::teid32(16, 0).unwrap();
    let t = VidTable::with_entries(wide, None, 1, &[entry(7, true)]);
    let r = ntuple::rules(&t, &Target::gtp_u(wide), &[]).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].matcher,
        NtupleMatch::Flex {
            port: 2152,
            offset: 4,
            value: 7
        }
    );
}

#[test]
fn classify_never_reads_past_the_packet() {
    let set = RuleSet::new(
        &table(1, &[entry(4, true)]),
        &Target::gtpv1(VidLayout::default()),
        &[],
    )
    .unwrap();
    let p = ipv4_udp(5, 0, GW, 2152, &g_pdu(0x0400_0001));
    // The TEID ends 20 + 8 + 8 octets in.
    for n in 0..p.len() {
        let got = set.classify(&p[..n]).map(|s| s.vid);
        assert_eq!(got, (n >= 36).then_some(vid(4)), "{n} octets");
    }
}

/// A table of VIDs from 1 to 12 in random states (absent, Up, Down), with a random layout.
fn arb_table() -> impl Strategy<Value = VidTable> {
    let layouts = prop_oneof![
        Just(VidLayout::default()),
        Just(VidLayout::teid32(4, 4).unwrap()),
        Just(VidLayout::teid32(8, 0).unwrap()),
        Just(VidLayout::teid32(6, 6).unwrap()),
    ];
    (layouts, proptest::collection::vec(0u8..3, 12)).prop_map(|(l, states)| {
        let entries: Vec<TableEntry> = states
            .iter()
            .enumerate()
            .filter(|(i, s)| **s != 0 && *i < usize::from(l.max_vid()))
            .map(|(i, s)| entry(i as u16 + 1, *s == 1))
            .collect();
        VidTable::with_entries(l, None, 1, &entries)
    })
}

/// A TEID whose fields are mostly VIDs 0 to 13 (so they hit the table), sometimes anything.
fn arb_teid(l: VidLayout) -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => (0u16..14, 0u16..14, any::<u32>()).prop_map(move |(p, b, local)| {
            let mut t = local & !(l.primary_field().mask() | l.backup_field().map_or(0, |f| f.mask()));
            t |= u32::from(p.min(l.max_vid())) << l.primary_field().shift;
            if let Some(f) = l.backup_field() {
                t |= u32::from(b.min(l.max_vid())) << f.shift;
            }
            t
        }),
        1 => any::<u32>(),
    ]
}

proptest! {
    // Cheap cases; enough of them that the failover path (primary Down, backup Up: about 2 % of
    // the generated packets) is exercised some twenty times per run.
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// No octets make `classify` panic.
    #[test]
    fn classify_takes_any_octets(
        t in arb_table(),
        packet in proptest::collection::vec(any::<u8>(), 0..80),
        ihl in 0u8..16,
    ) {
        let prefixes = [
            UePrefix { prefix: "10.0.0.0/8".parse().unwrap(), vid: vid(1), backup: None },
            UePrefix { prefix: "2001:db8::/33".parse().unwrap(), vid: vid(2), backup: Some(vid(1)) },
        ];
        let set = RuleSet::new(&t, &Target::gtpv1(t.layout()), &prefixes).unwrap();
        let mut packet = packet;
        if let Some(b) = packet.first_mut() {
            *b = 0x40 | ihl;
        }
        let _ = set.classify(&packet);
        // The same octets as an IPv6 packet (the IPv6 prefix list).
        if let Some(b) = packet.first_mut() {
            *b = 0x60 | ihl;
        }
        let _ = set.classify(&packet);
    }

    /// The rules' match bits agree with `steer()`: a packet a rule steers goes where `steer()`
    /// sends it, and every unfragmented GTPv1 datagram to 2152 or 2123 that `steer()` sends to
    /// a processor is steered by a rule (so the host sees only what `steer()` keeps).
    #[test]
    fn tc_rules_agree_with_steer(
        (t, teid) in arb_table().prop_flat_map(|t| { let l = t.layout(); (Just(t), arb_teid(l)) }),
        ihl in 5u8..=15,
        frag in prop_oneof![4 => Just(0u16), 1 => Just(0x4000u16), 1 => any::<u16>()],
        port in prop_oneof![Just(2152u16), Just(2123), any::<u16>()],
        octet0 in prop_oneof![4 => Just(0x30u8), 1 => any::<u8>()],
        octet1 in any::<u8>(),
        tail in proptest::collection::vec(any::<u8>(), 0..8),
        truncate in 0usize..4,
    ) {
        let set = RuleSet::new(&t, &Target::gtpv1(t.layout()), &[]).unwrap();
        let mut payload = g_pdu(teid);
        payload[0] = octet0;
        payload[1] = octet1;
        payload.extend_from_slice(&tail);
        let payload = &payload[..payload.len() - truncate];
        let packet = ipv4_udp(ihl, frag, GW, port, payload);
        let verdict = t.steer(payload);
        let got = set.classify(&packet);
        if let Some(s) = got {
            prop_assert_eq!(verdict, Verdict::Processor { vid: s.vid, backup: s.backup });
            prop_assert_eq!(t.addr(s.vid), Some(s.addr));
        }
        if let Verdict::Processor { vid, backup } = verdict {
            if frag & 0x3fff == 0 && (port == 2152 || port == 2123) && octet0 & 0xf0 == 0x30 {
                prop_assert_eq!(got.map(|s| (s.vid, s.backup)), Some((vid, backup)));
            }
        }
    }

    /// Applying a diff rule by rule (removals, changes in place, additions) takes the old rules
    /// to the new ones.
    #[test]
    fn diffs_take_one_version_to_the_next(a in arb_table(), b in arb_table()) {
        let targets = Target::gtpv1(VidLayout::default());
        let relayout = |t: &VidTable| VidTable::with_entries(
            VidLayout::default(), None, t.version(), &t.entries().collect::<Vec<_>>());
        let old = RuleSet::new(&relayout(&a), &targets, &[]).unwrap();
        let new = RuleSet::new(&relayout(&b), &targets, &[]).unwrap();
        let diff = old.diff(&new);
        let mut state: Vec<Rule> = old.rules().to_vec();
        state.retain(|r| !diff.removed.contains(r));
        for (was, now) in &diff.changed {
            prop_assert_eq!(was.key, now.key);
            let at = state.iter().position(|r| r == was);
            prop_assert!(at.is_some(), "a change of a rule not installed");
            state[at.unwrap_or(0)] = *now;
        }
        prop_assert!(diff.added.iter().all(|a| state.iter().all(|r| r.key != a.key)), "a node added twice");
        state.extend(diff.added.iter().copied());
        state.sort_by_key(|r| r.key);
        prop_assert_eq!(&state[..], new.rules());
    }

    /// The ntuple rules are sound for every G-PDU (a match goes where `steer()` sends it) and
    /// complete for TEIDs whose backup field is 0 or a VID of the table.
    #[test]
    fn ntuple_rules_agree_with_steer(
        states in proptest::collection::vec(0u8..3, 12),
        teid in arb_teid(VidLayout::default()),
    ) {
        let l = VidLayout::default();
        let entries: Vec<TableEntry> = states.iter().enumerate()
            .filter(|(_, s)| **s != 0).map(|(i, s)| entry(i as u16 + 1, *s == 1)).collect();
        let t = VidTable::with_entries(l, None, 1, &entries);
        let rules = ntuple::rules(&t, &Target::gtp_u(l), &[]).unwrap();
        let payload = g_pdu(teid);
        let got = ntuple::classify(&rules, GW, Some(2152), &payload);
        let verdict = t.steer(&payload);
        if let Some(s) = got {
            prop_assert_eq!(verdict, Verdict::Processor { vid: s.vid, backup: s.backup });
        }
        let known_backup = l.backup(teid).is_none_or(|b| t.state(b).is_some());
        if let (Verdict::Processor { vid, backup }, true) = (verdict, known_backup) {
            prop_assert_eq!(got.map(|s| (s.vid, s.backup)), Some((vid, backup)));
        }
    }

    /// Downlink: the longest prefix holding the destination decides; its VID if Up, else its
    /// backup if Up, else the host.
    #[test]
    fn downlink_rules_are_longest_prefix_match(
        states in proptest::collection::vec(0u8..3, 6),
        prefixes in proptest::collection::vec((0u8..4, 8u8..=24, 1u16..=6, proptest::option::of(1u16..=6)), 0..6),
        dst in any::<[u8; 2]>(),
    ) {
        let entries: Vec<TableEntry> = states.iter().enumerate()
            .filter(|(_, s)| **s != 0).map(|(i, s)| entry(i as u16 + 1, *s == 1)).collect();
        let t = table(1, &entries);
        let list: Vec<UePrefix> = prefixes.iter().map(|&(third, len, v, b)| UePrefix {
            prefix: IpNetwork::V4(Ipv4Network::new(Ipv4Addr::new(10, 45, third, 0), len).unwrap()),
            vid: vid(v),
            backup: b.map(vid),
        }).collect();
        let set = RuleSet::new(&t, &[], &list).unwrap();
        let dst = Ipv4Addr::new(10, 45, dst[0] & 3, dst[1]);
        let up = |v: VirtualId| t.state(v) == Some(VidState::Up);
        let best = list.iter()
            .filter(|p| p.prefix.contains(dst.into()))
            .max_by_key(|p| p.prefix.prefix());
        let best_len = best.map(|p| p.prefix.prefix());
        // Several prefixes of the best length may hold it: any of them may decide.
        let allowed: Vec<Option<VirtualId>> = list.iter()
            .filter(|p| p.prefix.contains(dst.into()) && Some(p.prefix.prefix()) == best_len)
            .map(|p| if up(p.vid) { Some(p.vid) } else { p.backup.filter(|b| up(*b)) })
            .collect();
        let got = set.classify(&ipv4_udp(5, 0, dst, 7, b"ue")).map(|s| s.vid);
        if best.is_none() {
            prop_assert_eq!(got, None);
        } else {
            prop_assert!(allowed.contains(&got), "{:?} not in {:?}", got, allowed);
        }
    }

    /// The downlink rules built from the UE pool's slices
    /// ([`UePool::rule_prefixes`]) agree with `steer_downlink()`: a packet a rule steers goes
    /// where `steer_downlink()` sends it, and every packet to the pool that `steer_downlink()`
    /// sends to a processor is steered by a rule.
    #[test]
    fn downlink_slice_rules_agree_with_steer_downlink(
        t in arb_table(),
        p in 0u16..14, b in 0u16..14, low in any::<u32>(),
        outside in any::<bool>(),
    ) {
        let l = t.layout();
        let pool = UePool::new(&l, "10.0.0.0/8".parse().unwrap(), None).unwrap();
        let t = t.with_ue_pool(Some(pool));
        let set = RuleSet::new(&t, &[], &pool.rule_prefixes(&t)).unwrap();
        let w = u32::from(l.primary_field().width);
        let fields = if l.backup_field().is_some() { 2 * w } else { w };
        let host = 24 - fields;
        let mut a = 10u32 << 24 | u32::from(p.min(l.max_vid())) << (24 - w) | (low & ((1 << host) - 1));
        if l.backup_field().is_some() {
            a |= u32::from(b.min(l.max_vid())) << (24 - 2 * w);
        }
        if outside {
            a ^= 0x8000_0000;
        }
        let packet = ipv4_udp(5, 0, Ipv4Addr::from(a), 7, b"ue");
        let verdict = t.steer_downlink(&packet);
        let got = set.classify(&packet);
        if let Some(s) = got {
            prop_assert_eq!(verdict, Verdict::Processor { vid: s.vid, backup: s.backup });
            prop_assert_eq!(t.addr(s.vid), Some(s.addr));
        }
        if let Verdict::Processor { vid, backup } = verdict {
            prop_assert_eq!(got.map(|s| (s.vid, s.backup)), Some((vid, backup)));
        }
    }
}

/// An IPv6 packet (UDP to port 7) to `dst`: the 40-octet header and 8 octets of UDP.
fn ipv6_to(dst: Ipv6Addr) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
    p.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1).octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[0x9c, 0x40, 0, 7, 0, 8, 0, 0]);
    p
}

/// IPv6 UE prefixes (RFC 8200 section 3: the destination address at octets 24 to 39): tc u32
/// `match ip6 dst` at the next priority, `protocol ipv6`, in their own hash table linked from
/// that priority's root; flower `protocol ipv6 ... dst_ip`; ethtool `flow-type ip6 dst-ip ... m
/// <ignored bits>`; an IPv6 packet meets only these rules, an IPv4 one never.
#[test]
fn renders_ipv6_prefix_rules() {
    let t = table(1, &[entry(4, true), entry(5, false), entry(6, true)]);
    let p = |s: &str, v, backup| UePrefix {
        prefix: s.parse().unwrap(),
        vid: vid(v),
        backup,
    };
    let prefixes = [
        p("2001:db8:4::/48", 4, None),
        p("2001:db8:5::/48", 5, Some(vid(6))),
        p("2001:db8:4:8000::/49", 6, None),
        p("10.45.4.0/24", 4, None),
    ];
    let set = RuleSet::new(&t, &[], &prefixes).unwrap();
    assert!(set.has_downlink() && set.has_downlink_v6());
    let to = |a: Ipv6Addr| set.classify(&ipv6_to(a)).map(|s| (s.vid, s.backup));
    assert_eq!(to("2001:db8:4::1".parse().unwrap()), Some((vid(4), false)));
    assert_eq!(
        to("2001:db8:4:8000::1".parse().unwrap()),
        Some((vid(6), false)),
        "the longer prefix first"
    );
    assert_eq!(to("2001:db8:5:1::1".parse().unwrap()), Some((vid(6), true)));
    assert_eq!(to("2001:db8:6::1".parse().unwrap()), None);
    // The IPv4 rules do not see it, the IPv6 ones not an IPv4 packet.
    assert_eq!(
        set.classify(&ipv4_udp(5, 0, Ipv4Addr::new(10, 45, 4, 1), 7, b"x"))
            .map(|s| s.vid),
        Some(vid(4))
    );
    let mut short = ipv6_to("2001:db8:4::1".parse().unwrap());
    short.truncate(30);
    assert_eq!(
        set.classify(&short),
        None,
        "a key past the end ends matching"
    );

    let lines = tc().install(&set).unwrap();
    for want in [
        "tc filter add dev eth0 ingress prio 11 protocol ipv6 handle 121: u32 divisor 1",
        "tc filter add dev eth0 ingress prio 11 protocol ipv6 u32 match u32 0 0 at 0 link 121:",
        "tc filter add dev eth0 ingress prio 11 protocol ipv6 handle 121::1 u32 ht 121: \
         match ip6 dst 2001:db8:4:8000::/49 action mirred egress redirect dev proc6",
        "tc filter add dev eth0 ingress prio 11 protocol ipv6 handle 121::2 u32 ht 121: \
         match ip6 dst 2001:db8:4::/48 action mirred egress redirect dev proc4",
        "tc filter add dev eth0 ingress prio 11 protocol ipv6 handle 121::3 u32 ht 121: \
         match ip6 dst 2001:db8:5::/48 action mirred egress redirect dev proc6",
        "tc filter add dev eth0 ingress prio 10 protocol ip handle 100::1 u32 ht 100: \
         match ip dst 10.45.4.0/24 action mirred egress redirect dev proc4",
    ] {
        assert!(lines.contains(&want.to_string()), "{want}\n{lines:#?}");
    }
    assert_eq!(
        tc().teardown_set(&set).unwrap(),
        vec![
            "tc filter del dev eth0 ingress prio 10".to_string(),
            "tc filter del dev eth0 ingress prio 11".to_string()
        ]
    );
    // VID 6 goes down: the IPv6 rules change in place at prio 11.
    let t2 = table(2, &[entry(4, true), entry(5, false), entry(6, false)]);
    let set2 = RuleSet::new(&t2, &[], &prefixes).unwrap();
    let update = tc().update(&set, &set2).unwrap();
    assert!(
        update.contains(
            &"tc filter replace dev eth0 ingress prio 11 protocol ipv6 handle 121::1 u32 ht 121: \
          match ip6 dst 2001:db8:4:8000::/49 classid 1:1"
                .to_string()
        )
    );
    // Without IPv6 prefixes the lists differ: torn down (both priorities) and reinstalled.
    let v4only = RuleSet::new(&t2, &[], &prefixes[3..]).unwrap();
    let update = tc().update(&set, &v4only).unwrap();
    assert_eq!(&update[..2], &tc().teardown_set(&set).unwrap()[..]);

    let flower = tc().flower_downlink(&set, 20).unwrap();
    assert_eq!(
        flower,
        vec![
            "tc filter add dev eth0 ingress prio 20 protocol ip flower dst_ip 10.45.4.0/24 \
             action mirred egress redirect dev proc4",
            "tc filter add dev eth0 ingress prio 21 protocol ipv6 flower dst_ip \
             2001:db8:4:8000::/49 action mirred egress redirect dev proc6",
            "tc filter add dev eth0 ingress prio 22 protocol ipv6 flower dst_ip 2001:db8:4::/48 \
             action mirred egress redirect dev proc4",
            "tc filter add dev eth0 ingress prio 23 protocol ipv6 flower dst_ip 2001:db8:5::/48 \
             action mirred egress redirect dev proc6",
        ]
    );

    // ethtool: IPv6 prefixes must not overlap either.
    let nt = [prefixes[0], prefixes[1]];
    let rules = ntuple::rules(&t, &Target::gtp_u(VidLayout::default()), &nt).unwrap();
    let mut n = Ntuple::new("eth0", 0, 16)
        .with_queue(addr(4), 4)
        .with_queue(addr(6), 6);
    let lines = n.sync(&rules).unwrap();
    let ip6: Vec<&String> = lines.iter().filter(|l| l.contains("ip6")).collect();
    assert_eq!(
        ip6,
        vec![
            "ethtool -N eth0 flow-type ip6 dst-ip 2001:db8:4:: m ::ffff:ffff:ffff:ffff:ffff \
             action 4 loc 10",
            "ethtool -N eth0 flow-type ip6 dst-ip 2001:db8:5:: m ::ffff:ffff:ffff:ffff:ffff \
             action 6 loc 11",
        ]
    );
    let dst: Ipv6Addr = "2001:db8:5::9".parse().unwrap();
    assert_eq!(
        ntuple::classify_ip(&rules, dst.into(), None, &[]).map(|s| (s.vid, s.backup)),
        Some((vid(6), true))
    );
    assert!(matches!(
        ntuple::rules(&t, &Target::gtp_u(VidLayout::default()), &prefixes[..3]),
        Err(RuleError::NotExpressible(Inexpressible::Overlap6(..)))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// IPv6 downlink: the rules built from the IPv6 pool's slices
    /// ([`UePool::rule_prefixes`]) agree with `steer_downlink()` for random IPv6 destinations,
    /// in the pool and outside it: a packet a rule steers goes where `steer_downlink()` sends it,
    /// and every packet `steer_downlink()` sends to a processor is steered by a rule; the same
    /// holds for the ethtool ntuple rules of the (non-overlapping) slices.
    #[test]
    fn ipv6_downlink_rules_agree_with_steer_downlink(
        t in arb_table(),
        p in 0u16..14, b in 0u16..14, low in any::<u64>(), iid in any::<u64>(),
        outside in prop_oneof![4 => Just(0u32), 1 => any::<u32>()],
    ) {
        let l = t.layout();
        let v6: ipnetwork::Ipv6Network = "2001:db8:100::/40".parse().unwrap();
        let pool = UePool::new(&l, "10.0.0.0/8".parse().unwrap(), Some(v6)).unwrap();
        let t = t.with_ue_pool(Some(pool));
        let prefixes = pool.rule_prefixes(&t);
        let set = RuleSet::new(&t, &[], &prefixes).unwrap();
        let w = u32::from(l.primary_field().width);
        let mut top = 0x2001_0db8_0100_0000u64;
        top |= u64::from(p.min(l.max_vid())) << (24 - w);
        if l.backup_field().is_some() {
            top |= u64::from(b.min(l.max_vid())) << (24 - 2 * w);
        }
        let fields = if l.backup_field().is_some() { 2 * w } else { w };
        top |= low & ((1u64 << (24 - fields)) - 1);
        top ^= u64::from(outside) << 32;
        let dst = Ipv6Addr::from(u128::from(top) << 64 | u128::from(iid));
        let packet = ipv6_to(dst);
        let verdict = t.steer_downlink(&packet);
        let got = set.classify(&packet);
        if let Some(s) = got {
            prop_assert_eq!(verdict, Verdict::Processor { vid: s.vid, backup: s.backup });
            prop_assert_eq!(t.addr(s.vid), Some(s.addr));
        }
        if let Verdict::Processor { vid, backup } = verdict {
            prop_assert_eq!(got.map(|s| (s.vid, s.backup)), Some((vid, backup)));
        }
        // The slices alone (no overlap) for a NIC: sound, and complete for Up primaries and
        // for backups of Down ones.
        let slices: Vec<UePrefix> = prefixes.iter().copied()
            .filter(|x| x.prefix.is_ipv6() && (x.backup.is_some() || l.backup_field().is_none()))
            .collect();
        let rules = ntuple::rules(&t, &Target::gtp_u(l), &slices);
        if let Ok(rules) = rules {
            let nic = ntuple::classify_ip(&rules, dst.into(), Some(7), &[]);
            if let Some(s) = nic {
                prop_assert_eq!(verdict, Verdict::Processor { vid: s.vid, backup: s.backup });
            }
        }
    }
}
