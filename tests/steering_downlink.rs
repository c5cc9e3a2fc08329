//! Issue 17 item 4: downlink steering by UE address. Each processor's UE addresses come from
//! its own slice of the pool, cut by (VID, backup VID) (`telcp::steering::ue_pool`), so the line
//! interface steers a downlink IP packet by its destination address with the same table and
//! the same failover as the session's uplink G-PDUs by their TEID; both directions of a session
//! land on one processor, before and after a processor failure; a full slice refuses set-ups
//! with the protocol's cause.

mod common;

use common::steering::*;
use proptest::prelude::*;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};
use telcp::health::{ClusterKey, NodeId as HealthId};
use telcp::sim::{Fate, NodeId};
use telcp::steering::fabric::{FabricMessage, TableEntry, VidState};
use telcp::steering::line::{DropReason, VidTable};
use telcp::steering::processor::ProcessorConfig;
use telcp::steering::ue_pool::UePool;
use telcp::steering::{LineInterface, Processor, Verdict, VidLayout, VirtualId, gtp, gtpv2, pfcp};

/// A server on the SGi / N6 side.
const SERVER: [u8; 4] = [198, 51, 100, 7];

fn v(n: u16) -> VirtualId {
    VirtualId::new(n).unwrap()
}

/// An IPv4/UDP packet from the server to `dst` (RFC 791, header checksum set; RFC 768, UDP
/// checksum 0).
fn ipv4_to(dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = (20 + 8 + payload.len()) as u16;
    let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&SERVER);
    p.extend_from_slice(&dst.octets());
    let sum = p
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum::<u32>();
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&5000u16.to_be_bytes());
    p.extend_from_slice(&5001u16.to_be_bytes());
    p.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// An IPv6/UDP packet from 2001:db8:ffff::7 to `dst` (RFC 8200 section 3).
fn ipv6_to(dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[17, 64]);
    p.extend_from_slice(&"2001:db8:ffff::7".parse::<Ipv6Addr>().unwrap().octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[0x13, 0x88, 0x13, 0x89]);
    p.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

fn g_pdu(teid: u32) -> Vec<u8> {
    gtp::Message::g_pdu(teid, &b"uplink"[..]).to_vec().unwrap()
}

fn pool() -> UePool {
    UePool::new(&layout(), "10.0.0.0/8".parse().unwrap(), None).unwrap()
}

/// Seeds of the scenario runs: 0..4 plus STEERING_SEED, or STEERING_DOWNLINK_SWEEP=a..b.
fn seeds() -> std::ops::Range<u64> {
    std::env::var("STEERING_DOWNLINK_SWEEP")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once("..")?;
            Some(a.parse().ok()?..b.parse().ok()?)
        })
        .unwrap_or(0..4)
}

/// G-PDUs delivered to `to` with header TEID `teid`, per the simulator's trace.
fn delivered_g_pdus(gw: &Gateway, to: SocketAddr, teid: u32) -> usize {
    gw.sim
        .trace()
        .iter()
        .filter(|r| r.to == to && r.fate == Fate::Delivered)
        .filter_map(|r| gtp::parse(&r.payload).ok())
        .filter(|m| m.message_type() == gtp::MessageType::G_PDU && m.header.teid == teid)
        .count()
}

/// Sends a downlink packet to `ue` (through the line interface's SGi side) until the peer got
/// a G-PDU with `peer_teid` at `peer_u` (the links lose packets), at most 20 times.
fn downlink_until_delivered(gw: &mut Gateway, ue: Ipv4Addr, peer_u: SocketAddr, peer_teid: u32) {
    let before = delivered_g_pdus(gw, peer_u, peer_teid);
    for _ in 0..20 {
        gw.sim.inject(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::from(SERVER)), 0),
            sa(GW_IP, 0),
            ipv4_to(ue, b"downlink"),
        );
        gw.sim.run_for(Duration::from_millis(40));
        if delivered_g_pdus(gw, peer_u, peer_teid) > before {
            return;
        }
    }
    panic!("no downlink G-PDU for {ue} reached {peer_u} (TEID {peer_teid:#x})");
}

/// The steering checks of one session: its uplink G-PDU (TEID) and its downlink packet (UE
/// address) get the same verdict, which names a processor holding the session.
fn check_both_directions(gw: &Gateway, teid: u32, ue: Ipv4Addr, want_backup: bool) -> VirtualId {
    let line = gw.line(0);
    let up = line.steer(&g_pdu(teid));
    let down = line.steer_downlink(&ipv4_to(ue, b"x"));
    assert_eq!(
        up, down,
        "uplink TEID {teid:#x} and downlink {ue} steered alike"
    );
    let Verdict::Processor { vid, backup } = down else {
        panic!("{ue}: {down:?}");
    };
    assert_eq!(backup, want_backup);
    let holder = gw.proc_by_vid(vid).expect("a live processor holds the VID");
    assert!(
        gw.proc(holder).has_session(teid),
        "{ue} lands on its session"
    );
    vid
}

/// The GTPv1 story over many seeds with 5 % loss, duplication and reordering: every session's
/// UE address lies in its (VID, backup VID) slice with the TEID's local index; uplink and
/// downlink of each session are steered to the processor holding it; downlink packets reach the
/// SGSN encapsulated with its TEID; after processor 12 fails, both directions of its sessions go
/// to their backup, which serves them from the replicated state: no session is lost, the line
/// drops no downlink packet, no processor meets a downlink packet of a session it lacks.
#[test]
fn both_directions_land_on_one_processor_and_fail_over_together() {
    for seed in seeds() {
        downlink_story(seed);
    }
}

fn downlink_story(seed: u64) {
    let mut gw = Gateway::new(seed, 0.05, 1);
    gw.create_sessions(16);
    gw.settle();
    let layout = layout();
    let pool = pool();
    let sessions = gw.sim.node::<Sgsn>(gw.sgsn).sessions.clone();
    let sgsn_u = sa(SGSN_IP, 2152);
    for s in &sessions {
        let ue = s.ue.expect("an End User Address");
        let t = s.gw_teid_u;
        let slot = (
            layout.primary(t).unwrap(),
            layout.backup(t),
            layout.local(t),
        );
        assert_eq!(
            pool.slot_v4(ue),
            Some(slot),
            "seed {seed}: {ue} in its TEID's slice"
        );
        check_both_directions(&gw, t, ue, false);
        downlink_until_delivered(&mut gw, ue, sgsn_u, s.own_teid);
    }
    let victim = gw.proc(12).vid().unwrap();
    let victims: Vec<_> = sessions
        .iter()
        .filter(|s| layout.primary(s.gw_teid_u) == Some(victim))
        .collect();
    assert!(
        !victims.is_empty(),
        "seed {seed}: processor 12 holds sessions"
    );
    let n = gw.procs[&12];
    gw.sim.crash(n);
    let ok = gw
        .sim
        .run_until_cond(Duration::from_millis(20), Duration::from_secs(5), |s| {
            s.node::<LineInterface>(NodeId(1)).table().state(victim) == Some(VidState::Down)
        });
    assert!(ok, "seed {seed}: the line never marked processor 12 down");
    let backup_before: u64 = PROCS
        .iter()
        .filter(|id| **id != 12)
        .map(|id| gw.proc(*id).stats().downlink_packets_backup)
        .sum();
    for s in &sessions {
        let ue = s.ue.unwrap();
        let moved = layout.primary(s.gw_teid_u) == Some(victim);
        let vid = check_both_directions(&gw, s.gw_teid_u, ue, moved);
        if moved {
            assert_eq!(Some(vid), layout.backup(s.gw_teid_u));
        }
        downlink_until_delivered(&mut gw, ue, sgsn_u, s.own_teid);
    }
    let backup_after: u64 = PROCS
        .iter()
        .filter(|id| **id != 12)
        .map(|id| gw.proc(*id).stats().downlink_packets_backup)
        .sum();
    assert!(backup_after - backup_before >= victims.len() as u64);
    let line = gw.line(0).stats();
    for reason in [
        DropReason::NotInPool,
        DropReason::ProcessorDown,
        DropReason::UnknownVid,
    ] {
        assert_eq!(line.drops(reason), 0, "seed {seed}: {reason:?}");
    }
    assert!(line.downlink_backup >= victims.len() as u64);
    for id in PROCS.iter().filter(|id| **id != 12) {
        assert_eq!(gw.proc(*id).stats().downlink_unknown, 0, "seed {seed}");
    }
}

/// A table with VIDs 1..=20 Up but those in `down`.
fn table(down: &[u16], pool: UePool) -> VidTable {
    let addr = "172.16.1.1:4000".parse().unwrap();
    let entries: Vec<TableEntry> = (1..=20)
        .map(|n| TableEntry {
            vid: v(n),
            state: if down.contains(&n) {
                VidState::Down
            } else {
                VidState::Up
            },
            addr,
        })
        .collect();
    VidTable::with_entries(layout(), None, 1, &entries).with_ue_pool(Some(pool))
}

proptest! {
    /// For random sessions (VID, backup VID, local index) and random processor states, a
    /// downlink packet to the session's UE address (IPv4, and IPv6 /64) is steered exactly as
    /// its uplink G-PDU (the TEID with the same VIDs and index): to the processor that
    /// allocated the address while it is Up, to the backup while it is Down.
    #[test]
    fn steer_downlink_agrees_with_the_allocating_processor(
        p in 1u16..=20, b in 1u16..=20, local in 1u32..=255,
        down in proptest::collection::vec(1u16..=20, 0..4),
    ) {
        prop_assume!(p != b);
        let pool = UePool::new(
            &layout(),
            "10.0.0.0/8".parse().unwrap(),
            Some("2001:db8::/32".parse().unwrap()),
        ).unwrap();
        let t = table(&down, pool);
        let teid = layout().compose(v(p), Some(v(b)), local).unwrap();
        let want = t.steer(&g_pdu(teid));
        let v4 = pool.address(v(p), Some(v(b)), local).unwrap();
        let v6 = pool.address_v6(v(p), Some(v(b)), local).unwrap();
        prop_assert_eq!(t.steer_downlink(&ipv4_to(v4, b"d")), want);
        prop_assert_eq!(t.steer_downlink(&ipv6_to(v6, b"d")), want);
        let expected = match (down.contains(&p), down.contains(&b)) {
            (false, _) => Verdict::Processor { vid: v(p), backup: false },
            (true, false) => Verdict::Processor { vid: v(b), backup: true },
            (true, true) => Verdict::Drop(DropReason::ProcessorDown),
        };
        prop_assert_eq!(want, expected);
    }

    /// Addresses outside the pool, and packets that are not IPv4 or IPv6, are dropped.
    #[test]
    fn addresses_outside_the_pool_are_dropped(a in any::<u32>(), junk in any::<Vec<u8>>()) {
        let t = table(&[], pool());
        let addr = Ipv4Addr::from(a);
        let verdict = t.steer_downlink(&ipv4_to(addr, b""));
        if addr.octets()[0] != 10 {
            prop_assert_eq!(verdict, Verdict::Drop(DropReason::NotInPool));
        }
        let v = t.steer_downlink(&junk);
        let version = junk.first().map(|b| b >> 4);
        if !matches!(version, Some(4 | 6)) {
            prop_assert_eq!(v, Verdict::Drop(DropReason::Malformed));
        }
    }
}

// ------------------------------------------------------------------- address exhaustion

const PROC: &str = "172.16.1.11:4000";
const SWITCH: &str = "172.16.0.100:4000";
const LINE: &str = "172.16.0.1:4000";

fn s(a: &str) -> SocketAddr {
    a.parse().unwrap()
}

/// Sessions per (VID, backup VID) slice of [`small_processor`]'s pool.
const SLICE: u32 = 15;

/// `m` as the switch processor sends it to processor 11 (fabric version 5).
fn from_switch(m: &FabricMessage<'_>) -> Vec<u8> {
    common::steering::from_switch(b"downlink cluster key", 11, m)
}

/// A processor with VID 5 whose pool 10.0.0.0/12 leaves 4 local bits after the 8-bit VID and
/// backup fields (the fewest a pool may leave, `UePool::MIN_LOCAL_BITS`): 15 sessions per
/// (VID, backup VID) slice.
fn small_processor(now: Instant) -> Processor {
    let cfg = ProcessorConfig::new(
        HealthId(11),
        s(PROC),
        s(SWITCH),
        s(LINE),
        VidLayout::default(),
        "10.0.0.0/12".parse().unwrap(),
        ClusterKey::new(b"downlink cluster key"),
    );
    let mut p = Processor::new(cfg, now).unwrap();
    let assign = FabricMessage::VidAssign {
        processor: HealthId(11),
        incarnation: 1,
        vid: v(5),
    };
    p.handle_datagram(now, s(SWITCH), s(PROC), &from_switch(&assign))
        .unwrap();
    while p.poll_transmit().is_some() {}
    p
}

/// Directs `data` (sent by `peer` to `gw`) to the processor with backup VID `backup`; returns
/// the payloads of the datagrams it sends outside at once (refusals; acceptances wait for the
/// replication).
fn direct(
    p: &mut Processor,
    now: Instant,
    backup: u16,
    peer: &str,
    gw: &str,
    data: Vec<u8>,
) -> Vec<Vec<u8>> {
    let m = FabricMessage::Directed {
        backup: VirtualId::new(backup),
        from: s(peer),
        to: s(gw),
        data: Cow::Owned(data),
    };
    p.handle_datagram(now, s(SWITCH), s(PROC), &from_switch(&m))
        .unwrap();
    let mut out = Vec::new();
    while let Some(t) = p.poll_transmit() {
        if let Ok(FabricMessage::Transmit { data, .. }) = FabricMessage::parse(&t.payload) {
            out.push(data.into_owned());
        }
    }
    out
}

fn create_pdp(i: u32) -> Vec<u8> {
    use gtp::{Apn, EndUserAddress, Ie, Imsi, Message, MessageType};
    let me = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    Message::new(
        MessageType::CREATE_PDP_CONTEXT_REQUEST,
        0,
        i as u16 + 1,
        vec![
            Ie::Imsi(Imsi::from_digits(&format!("00101{i:010}")).unwrap()),
            Ie::SelectionMode(0xfc),
            Ie::TeidDataI(0x100 + i),
            Ie::TeidControl(0x100 + i),
            Ie::Nsapi(5),
            Ie::EndUserAddress(EndUserAddress::ipv4(None)),
            Ie::Apn(Apn::from_name("internet").unwrap()),
            Ie::GsnAddress(me),
            Ie::GsnAddress(me),
            Ie::QosProfile(Cow::Borrowed(&[0, 0x0b, 0x92, 0x1f])),
        ],
    )
    .to_vec()
    .unwrap()
}

/// gtpc-7.3.2-addresses-occupied (TS 29.060 sections 7.3.2 and 7.7.1, cause 211 "All dynamic
/// PDP addresses are occupied"): a Create PDP Context Request the processor cannot give a
/// dynamic address of its slice is refused with 211, counted; another slice (another backup
/// VID) still has addresses.
#[test]
fn gtpc_7_3_2_addresses_occupied() {
    let now = Instant::now();
    let mut p = small_processor(now);
    for i in 0..SLICE {
        let out = direct(
            &mut p,
            now,
            9,
            "192.0.2.10:2123",
            "10.0.0.1:2123",
            create_pdp(i),
        );
        assert!(out.is_empty(), "accepted: held until replicated");
    }
    let out = direct(
        &mut p,
        now,
        9,
        "192.0.2.10:2123",
        "10.0.0.1:2123",
        create_pdp(SLICE),
    );
    let refusal = gtp::parse(&out[0]).unwrap();
    assert_eq!(
        refusal.cause(),
        Some(gtp::Cause::ALL_DYNAMIC_ADDRESSES_OCCUPIED)
    );
    assert_eq!(refusal.cause().map(|c| c.0), Some(211));
    assert_eq!(p.stats().addresses_exhausted, 1);
    assert_eq!(p.stats().refused, 1);
    // Another backup VID: another slice.
    let out = direct(
        &mut p,
        now,
        8,
        "192.0.2.10:2123",
        "10.0.0.1:2123",
        create_pdp(SLICE + 1),
    );
    assert!(out.is_empty());
    assert_eq!(p.session_count(), SLICE as usize + 1);
    let mut teids: Vec<u32> = p.session_teids().collect();
    teids.sort();
    // The TEIDs carry (5, 8, 1) and (5, 9, 1..=15).
    let mut want = vec![0x0508_0001];
    want.extend((1..=SLICE).map(|i| 0x0509_0000 + i));
    assert_eq!(teids, want);
}

/// gtpv2-7.2.2-addresses-occupied (TS 29.274 sections 7.2.2 and 8.4): a Create Session Request
/// the processor cannot give a PDN address of its slice is refused with All dynamic addresses
/// are occupied (84).
#[test]
fn gtpv2_7_2_2_addresses_occupied() {
    let now = Instant::now();
    let mut p = small_processor(now);
    let mme = Mme::new(Ipv4Addr::new(192, 0, 2, 20), s("10.0.0.1:2123"));
    let csr = |i: u32| {
        let ies = mme.create_ies(&format!("00101{i:010}"), 5, 0x6600 + i, 0x7700 + i);
        gtpv2::Message::new(
            gtpv2::MessageType::CREATE_SESSION_REQUEST,
            Some(0),
            i + 1,
            ies,
        )
        .to_vec()
        .unwrap()
    };
    for i in 0..SLICE {
        assert!(direct(&mut p, now, 9, "192.0.2.20:2123", "10.0.0.1:2123", csr(i)).is_empty());
    }
    let out = direct(
        &mut p,
        now,
        9,
        "192.0.2.20:2123",
        "10.0.0.1:2123",
        csr(SLICE),
    );
    let refusal = gtpv2::parse(&out[0]).unwrap();
    assert_eq!(
        refusal.cause().map(|c| c.value),
        Some(gtpv2::CauseValue::ALL_DYNAMIC_ADDRESSES_ARE_OCCUPIED)
    );
    assert_eq!(p.stats().addresses_exhausted, 1);
}

/// pfcp-7.5.3-addresses-occupied (TS 29.244 sections 7.5.3 and 8.2.1): a Session Establishment
/// Request asking the UP function to choose the UE IP address (CHV4) that the processor's full
/// slice cannot serve is refused with All dynamic addresses are occupied (79); without CHV4,
/// No resources available (75).
#[test]
fn pfcp_7_5_3_addresses_occupied() {
    let now = Instant::now();
    let mut p = small_processor(now);
    let smf = Smf::new(Ipv4Addr::new(192, 0, 2, 30), s("10.0.0.1:8805"));
    let ser = |i: u32, chv4: bool| {
        let mut ies = smf.establishment_ies(0x5e1d + u64::from(i), 0x8800 + i);
        if chv4 {
            ask_ue_ip(&mut ies);
        }
        pfcp::Message::new(
            pfcp::MessageType::SESSION_ESTABLISHMENT_REQUEST,
            0,
            i + 1,
            ies,
        )
        .to_vec()
        .unwrap()
    };
    for i in 0..SLICE {
        let out = direct(
            &mut p,
            now,
            9,
            "192.0.2.30:8805",
            "10.0.0.1:8805",
            ser(i, true),
        );
        assert!(out.is_empty());
    }
    let out = direct(
        &mut p,
        now,
        9,
        "192.0.2.30:8805",
        "10.0.0.1:8805",
        ser(SLICE, true),
    );
    let cause = pfcp::parse(&out[0]).unwrap().cause();
    assert_eq!(cause, Some(pfcp::Cause::ALL_DYNAMIC_ADDRESSES_ARE_OCCUPIED));
    let out = direct(
        &mut p,
        now,
        9,
        "192.0.2.30:8805",
        "10.0.0.1:8805",
        ser(SLICE + 1, false),
    );
    let cause = pfcp::parse(&out[0]).unwrap().cause();
    assert_eq!(cause, Some(pfcp::Cause::NO_RESOURCES_AVAILABLE));
    assert_eq!(p.stats().addresses_exhausted, 2);
}

/// Adds a UE IP Address asking the UP function to choose an IPv4 address (CHV4, TS 29.244
/// section 8.2.62) to the PDI of the first Create PDR.
fn ask_ue_ip(ies: &mut [pfcp::Ie<'static>]) {
    use pfcp::{Ie, IeType};
    for ie in ies.iter_mut() {
        if let Ie::Grouped {
            ie_type: IeType::CREATE_PDR,
            ies,
        } = ie
        {
            for inner in ies.iter_mut() {
                if let Ie::Grouped {
                    ie_type: IeType::PDI,
                    ies: pdi,
                } = inner
                {
                    pdi.push(Ie::UeIpAddress(pfcp::UeIpAddress {
                        destination: false,
                        ipv4: None,
                        ipv6: None,
                        choose_ipv4: true,
                        choose_ipv6: false,
                        ipv6_prefix_delegation_bits: None,
                        ipv6_prefix_length: None,
                    }));
                    return;
                }
            }
        }
    }
}
